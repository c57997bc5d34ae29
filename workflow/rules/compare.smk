# compare stage: arrives with issue 4 (evaluate, explain and compare).

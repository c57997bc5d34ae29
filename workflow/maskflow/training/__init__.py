"""The train stage: cached arrays -> a trained model, its history and checkpoint."""

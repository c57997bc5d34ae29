"""The data stage: photos -> crops -> split -> uint8 cache -> class statistics."""

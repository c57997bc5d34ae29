"""Colour palettes (RGB) of skin, hair, irises and mask fabrics."""

SKIN = [(255, 224, 196), (241, 194, 167), (224, 172, 130), (198, 140, 100), (160, 105, 70), (110, 72, 50), (80, 52, 38)]
HAIR = [(25, 20, 18), (60, 40, 28), (105, 70, 45), (200, 170, 110), (150, 150, 150), (140, 60, 30), (230, 230, 225)]
IRIS = [(70, 45, 30), (40, 30, 25), (70, 110, 150), (80, 110, 70), (110, 80, 50)]
# mask colour -> weight: mostly surgical light blue and white, as in photos of the period.
MASK_COLOURS = {
    (165, 200, 230): 0.32,  # light blue
    (238, 240, 240): 0.20,  # white
    (35, 35, 40): 0.14,  # black
    (100, 150, 210): 0.08,  # blue
    (140, 140, 145): 0.06,  # grey
    (235, 170, 190): 0.06,  # pink
    (40, 50, 95): 0.06,  # navy
    (120, 170, 140): 0.04,  # green
    (215, 190, 165): 0.04,  # beige, close to some skin tones
}

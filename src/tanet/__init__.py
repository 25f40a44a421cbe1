"""tanet: TAM / TANet (ICCV 2021) and its baselines for video action recognition."""
__version__ = "0.1.0"

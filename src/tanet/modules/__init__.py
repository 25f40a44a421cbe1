from .adaptive_conv import adaptive_temporal_conv, adaptive_temporal_conv_reference, temporal_coefficients
from .tam import TAM
from .tam_capture import TAMCapture, TAMRecord
from .temporal import InflatedConv, TemporalShift, temporal_shift

__all__ = [
    "TAM",
    "TAMCapture",
    "TAMRecord",
    "adaptive_temporal_conv",
    "adaptive_temporal_conv_reference",
    "temporal_coefficients",
    "InflatedConv",
    "TemporalShift",
    "temporal_shift",
]

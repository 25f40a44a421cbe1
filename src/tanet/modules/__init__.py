from .tam import TAM, TAMCapture, TAMRecord, adaptive_temporal_conv, adaptive_temporal_conv_reference, temporal_coefficients
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

"""The video recognizer: a 2D backbone applied to every frame, a classifier, TSN average consensus."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["VideoRecognizer"]


class VideoRecognizer(nn.Module):
    """Clips (N, C, T, H, W) -> logits (N, num_classes), the mean of the T frames' logits.

    The backbone sees frames as (N*T, C, H, W) with the frames of one clip adjacent, which is what
    the temporal modules inside it (TAM, shift, inflated convs) expect.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, num_segments: int, dropout: float = 0.5) -> None:
        super().__init__()
        if num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {num_segments}")
        self.backbone = backbone
        self.num_segments = num_segments
        self.num_features = backbone.num_features
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.num_features, num_classes)
        self._init_classifier()
        # filled in by create_model: enough to rebuild the same architecture
        self.model_config: dict[str, Any] = {}

    @property
    def num_classes(self) -> int:
        return self.fc.out_features

    def _init_classifier(self) -> None:
        # the TSN/TSM/TAM recipe: a small normal init for the new classifier
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.num_features, num_classes).to(self.fc.weight.device)
        self._init_classifier()
        if self.model_config:
            self.model_config["num_classes"] = num_classes

    def get_classifier(self) -> nn.Module:
        return self.fc

    def frames(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N*T, C, H, W), checking T against num_segments."""
        if clips.dim() != 5:
            raise ValueError(f"expected clips of shape (N, C, T, H, W), got {tuple(clips.shape)}")
        num_clips, channels, num_frames, height, width = clips.shape
        if num_frames != self.num_segments:
            raise ValueError(
                f"this model was built for num_segments={self.num_segments} frames per clip, "
                f"got clips with T={num_frames} (shape {tuple(clips.shape)})"
            )
        return clips.transpose(1, 2).reshape(num_clips * num_frames, channels, height, width)

    def forward_features(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> the last stage's feature maps (N*T, C', h, w)."""
        return self.backbone.forward_features(self.frames(clips))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(N*T, C', h, w) -> logits (N, num_classes) (or the pooled per-clip features)."""
        pooled = torch.flatten(self.backbone.avgpool(features), 1)
        num_clips = pooled.shape[0] // self.num_segments
        if pre_logits:
            return pooled.view(num_clips, self.num_segments, -1).mean(dim=1)
        logits = self.fc(self.dropout(pooled))
        return logits.view(num_clips, self.num_segments, -1).mean(dim=1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(clips))

"""VideoMAE (Tong et al. 2022), ViT-B by default: the video encoder of MAE-DFER.

Follows the official fine-tuning model (MCG-NJU/VideoMAE ``modeling_finetune.py``), whose
parameter names fervid keeps: the clip is cut into 2×16×16 tubelets by a Conv3d
(``patch_embed.proj``; 16×224² → 8×14×14 = 1,568 tokens); a *fixed* sinusoidal position table
over the flattened tokens is added (a non-persistent buffer, as in Hugging Face, where it is a plain
attribute: in no state dict); 12 pre-norm blocks whose attention has q and v biases but no k
bias (``attn.q_bias``, ``attn.v_bias``, ``attn.qkv`` without bias), LayerNorm eps 1e-6; no CLS
token: the tokens are mean-pooled, normalised by ``fc_norm`` and classified by ``head``.

Other sizes (ViT-S, ViT-L, …) are the same network with other widths: loaded with ``pretrained=``, the
model is built with the checkpoint's geometry (:func:`videomae_geometry`: widths, depth, patch and
tubelet from the tensors, heads and clip size from ``config.json``).

Named weights: ``kinetics400_ssl`` (MCG-NJU/videomae-base, self-supervised only) and ``kinetics400``
(MCG-NJU/videomae-base-finetuned-kinetics). Other sources: Hugging Face ``VideoMAEModel`` /
``VideoMAEForVideoClassification`` / ``VideoMAEForPreTraining`` saves (transformers 4.x and 5.x) and the official fine-tuned and
pre-training checkpoints. Loading checks that the q/v biases arrive: a checkpoint without them,
or with every one of them zero, while VideoMAE (and its config's ``qkv_bias``/``qv_bias``) says
they exist, is refused with one line, because training from it would silently be a different
network (transformers v5 has been reported to load these biases as zeros; a file saved from
such a model has all-zero biases). A config saying ``qkv_bias: false`` loads with zero biases,
which is the same network, and the report says so.
"""

from __future__ import annotations

import re
from functools import partial

import torch
from torch import nn

from fervid.errors import FervidError, PretrainedMismatchError
from fervid.hub import IMAGENET_MEAN, IMAGENET_STD, HfRepo, Weights
from fervid.models._vit import Block, drop_path_rates, init_vit_weights
from fervid.models.geometry import Geometry, activation_line, first_key, layer_count
from fervid.models.registry import Converted, register_model
from fervid.models.weights import strip_prefix

VIDEOMAE_LN_EPS = 1e-6  # the official norm_layer; Hugging Face configs default to 1e-12 (negligible)


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """``(1, n, dim)``: token i, channel j gets sin (j even) or cos (j odd) of ``i / 10000^(2⌊j/2⌋/dim)``."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)  # (n, dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)


class VideoMAE(nn.Module):
    """VideoMAE encoder + mean pooling + ``fc_norm`` + head. ``(B, 3, T, H, W)`` → ``(B, num_classes)``.

    Defaults: ViT-B/16 with 2-frame tubelets, the official fine-tuning ``drop_path_rate`` 0.1 and
    head init scale 0.001. ``features`` gives the pooled, normalised embedding.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int,
        image_size: int,
        patch_size: int = 16,
        tubelet_size: int = 2,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qv_bias: bool = True,
        drop_rate: float = 0.0,
        head_dropout: float = 0.0,
        drop_path_rate: float = 0.1,
        init_std: float = 0.02,
        init_scale: float = 0.001,
    ) -> None:
        super().__init__()
        if image_size % patch_size or num_frames % tubelet_size:
            raise ValueError(
                f"a {num_frames}x{image_size} clip is not a whole number of "
                f"{tubelet_size}x{patch_size}x{patch_size} tubelets"
            )
        self.num_frames, self.image_size = num_frames, image_size
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(
            3,
            embed_dim,
            kernel_size=(tubelet_size, patch_size, patch_size),
            stride=(tubelet_size, patch_size, patch_size),
        )
        n = (num_frames // tubelet_size) * (image_size // patch_size) ** 2
        self.register_buffer("pos_embed", sinusoid_table(n, embed_dim), persistent=False)  # (1, N, D)
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads=num_heads,
                mlp_hidden=int(embed_dim * mlp_ratio),
                qkv_bias=False,
                qv_bias=qv_bias,
                drop=drop_rate,
                drop_path=p,
                eps=VIDEOMAE_LN_EPS,
            )
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.fc_norm = nn.LayerNorm(embed_dim, eps=VIDEOMAE_LN_EPS)
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(embed_dim, num_classes)
        self.apply(partial(init_vit_weights, std=init_std))
        with torch.no_grad():  # the official fine-tuning starts the head small
            self.head.weight.mul_(init_scale)
            self.head.bias.mul_(init_scale)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output tokens ``(B, N, D)``, tubelets in (t, h, w) order (Hugging Face's sequence output)."""
        b, c, t, h, w = x.shape
        if t != self.num_frames or h != self.image_size or w != self.image_size:
            raise ValueError(
                f"videomae was built for {self.num_frames} frames of {self.image_size}x{self.image_size}, "
                f"got {t} frames of {h}x{w}"
            )
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, D, t', h', w') -> (B, N, D)
        x = self.pos_drop(x + self.pos_embed.to(x.dtype))
        for blk in self.blocks:
            x = blk(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_norm(self.tokens(x).mean(dim=1))  # (B, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_drop(self.features(x)))


# Hugging Face names (after "videomae.") -> fervid's = the official ones.
_HF_RENAMES = [
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(q|v)_bias$", r"blocks.\1.attn.\2_bias"),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|value)\.bias$", r"blocks.\1.attn.\2_bias"),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.weight$", r"blocks.\1.attn.\2.weight"),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^classifier\.", "head."),
]
# Pre-training parts (decoder, mask token) and the pre-training encoder's final norm, which
# fine-tuning replaces by fc_norm (as the official fine-tuning code does).
_PRETRAIN_ONLY = re.compile(r"^(decoder\.|encoder_to_decoder\.|mask_token$|pos_embed$|layernorm\.|norm\.)")


def _rename_hf(key: str) -> str:
    for pattern, repl in _HF_RENAMES:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            return new.replace("attn.query_bias", "attn.q_bias").replace("attn.value_bias", "attn.v_bias")
    return key


def _fuse_qkv(state: dict) -> dict:
    out = {k: v for k, v in state.items() if not re.search(r"\.attn\.(query|key|value)\.weight$", k)}
    for key in [k for k in state if k.endswith(".attn.query.weight")]:
        prefix = key[: -len(".query.weight")]
        try:
            out[f"{prefix}.qkv.weight"] = torch.cat([state[f"{prefix}.{p}.weight"] for p in ("query", "key", "value")])
        except KeyError as e:
            raise FervidError(f"VideoMAE checkpoint lacks {e.args[0]} (needed to build {prefix}.qkv)") from None
    return out


def _check_qv_biases(state: dict, model: nn.Module, declared, kind: str, notes: list[str]) -> None:
    """Refuse missing or all-zero q/v biases where they should exist (see the module docstring)."""
    own = model.state_dict()
    wanted = sorted(k for k in own if k.endswith(("attn.q_bias", "attn.v_bias")))
    if not wanted or any(k not in own for k in state):
        return  # qv_bias=False, or keys that do not fit: the loader names them
    missing = [k for k in wanted if k not in state]
    if declared is False:
        for k in missing:
            state[k] = torch.zeros_like(own[k])
        if missing:
            notes.append("config says qkv_bias: false: q/v biases set to zero (the same network)")
        return
    why = "config.json says qkv_bias: true" if declared else "VideoMAE has them"
    if missing:
        raise PretrainedMismatchError(
            f"{kind} checkpoint lacks {len(missing)} of {len(wanted)} q/v biases (e.g. {missing[0]}) although "
            f"{why}; loading it would silently change the network"
        )
    if all(not state[k].any() for k in wanted):
        raise PretrainedMismatchError(
            f"{kind} checkpoint: all {len(wanted)} q/v biases are zero although {why}; the file was probably saved "
            "from a model that failed to load them (reported for transformers v5): use the original checkpoint"
        )


def convert_videomae(state: dict, model: nn.Module, info: dict) -> Converted:
    """Map a Hugging Face or official VideoMAE state dict onto fervid's names, checking the q/v biases."""
    state = strip_prefix(state, "module.")
    config = info.get("config") or {}
    notes: list[str] = []
    if any(k.startswith(("videomae.", "embeddings.patch_embeddings.", "encoder.layer.")) for k in state):
        if config.get("model_type", "videomae") != "videomae":
            raise FervidError(f"config.json describes a {config['model_type']!r} model, not VideoMAE")
        kind = "Hugging Face VideoMAE"
        state = _fuse_qkv({_rename_hf(k.removeprefix("videomae.")): v for k, v in state.items()})
    elif any(k.startswith("encoder.blocks.") for k in state):
        kind = "official VideoMAE pre-training"
        state = {k.removeprefix("encoder."): v for k, v in state.items()}
    else:
        kind = "VideoMAE (official fine-tuning layout)"
    dropped = sorted(k for k in state if _PRETRAIN_ONLY.match(k))
    state = {k: v for k, v in state.items() if k not in dropped}
    notes.append(
        f"{kind} checkpoint: keys renamed onto fervid's videomae"
        if kind.startswith("Hugging")
        else f"{kind} checkpoint"
    )
    if dropped:
        groups = sorted({k.split(".")[0] for k in dropped})
        notes.append(f"pre-training parts not used ({len(dropped)} tensors): " + ", ".join(g + "." for g in groups))
    _check_qv_biases(state, model, config.get("qkv_bias", config.get("qv_bias")), kind, notes)
    fresh = ()
    if "fc_norm.weight" not in state:
        fresh = ("fc_norm.",)
        notes.append("no fc_norm in the checkpoint (an encoder or pre-training save): fc_norm starts fresh")
    sizes = (config.get("num_frames"), config.get("image_size"))
    if sizes != (None, None) and sizes != (model.num_frames, model.image_size):
        notes.append(
            f"checkpoint made for {sizes[0]} frames at {sizes[1]} px: the fixed sinusoidal positions are "
            f"regenerated for {model.num_frames} frames at {model.image_size} px"
        )
    return Converted(state, fresh=fresh, notes=notes)


GEOMETRY_KEYS = ("patch_size", "tubelet_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qv_bias")


def videomae_geometry(state: dict, info: dict) -> Geometry:
    """The ``videomae`` builder arguments a Hugging Face or official VideoMAE checkpoint fixes.

    Widths, depth, patch and tubelet sizes from the tensors' shapes (every layout); heads, clip
    size and activation from ``config.json`` where one lies beside (heads otherwise 64 channels each).
    """
    state = {k.removeprefix("module.").removeprefix("videomae."): v for k, v in state.items()}
    config = info.get("config") or {}
    proj = first_key(
        state,
        "embeddings.patch_embeddings.projection.weight",
        "patch_embed.proj.weight",
        "encoder.patch_embed.proj.weight",
    )
    if proj is None or state[proj].ndim != 5:
        return Geometry()  # not VideoMAE's layout: the converter and the loader say what does not fit
    width, _, tubelet, patch, _ = state[proj].shape  # (D, 3, t, p, p)
    layers = r"^(?:encoder\.layer|encoder\.blocks|blocks)\.(\d+)\."
    fc1 = first_key(
        state, "encoder.layer.0.intermediate.dense.weight", "blocks.0.mlp.fc1.weight", "encoder.blocks.0.mlp.fc1.weight"
    )
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise FervidError(f"the Hugging Face VideoMAE uses hidden_act {act!r}; fervid's videomae uses gelu")
    how = "as config.json's hidden_act says" if "hidden_act" in config else "VideoMAE's"
    g = Geometry(
        dict(patch_size=int(patch), tubelet_size=int(tubelet), embed_dim=int(width), depth=layer_count(state, layers)),
        {k: int(config[k]) for k in ("num_frames", "image_size") if config.get(k)},
        "config.json and tensor shapes" if config else "tensor shapes",
        activation_line("gelu", how),
    )
    g.set_heads("num_heads", width, config.get("num_attention_heads"))
    if fc1 is not None:
        g.kwargs["mlp_ratio"] = state[fc1].shape[0] / width
    return g


# MCG-NJU's Hugging Face ports (transformers 4.x saves: q_bias/v_bias in the files, checked on load as for
# any VideoMAE file), CC-BY-NC-4.0 as their model cards say; ImageNet mean/std, 16 frames at 224 px.
WEIGHTS = (
    Weights(
        model="videomae",
        name="kinetics400_ssl",
        description="VideoMAE ViT-B/16 self-supervised (masked autoencoding) on Kinetics-400; fc_norm, head new",
        source=HfRepo("MCG-NJU/videomae-base"),
        licence="CC-BY-NC-4.0",
        size=376_843_776,  # VideoMAEForPreTraining's 94,210,944 fp32 parameters (with decoder)
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        image_size=224,
        num_frames=16,
    ),
    Weights(
        model="videomae",
        name="kinetics400",
        description="VideoMAE ViT-B/16 self-supervised, then fine-tuned on Kinetics-400 (400-class head replaced)",
        source=HfRepo("MCG-NJU/videomae-base-finetuned-kinetics"),
        licence="CC-BY-NC-4.0",
        size=346_139_200,  # VideoMAEForVideoClassification's 86,534,800 fp32 parameters
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        image_size=224,
        num_frames=16,
    ),
)

register_model(
    "videomae",
    description="VideoMAE ViT-B/16, 2x16x16 tubelets, mean pooling + fc_norm (MAE-DFER's encoder)",
    num_frames=16,
    image_size=224,
    head=("head.",),
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    convert=convert_videomae,
    weights=WEIGHTS,
    # Not a study model. MAE-DFER starts from self-supervised VoxCeleb2 weights, which are not on the hub:
    # the self-supervised Kinetics checkpoint is the nearest start.
    study_weights="kinetics400_ssl",
    geometry=videomae_geometry,
    geometry_keys=GEOMETRY_KEYS,
    # VideoMAE ViT-S, ViT-L: other sizes of the same network (config shapes checked in tests/models/test_geometry.py)
    known_repos=(
        "hf:MCG-NJU/videomae-small-finetuned-kinetics",
        "hf:MCG-NJU/videomae-large",
        "hf:MCG-NJU/videomae-large-finetuned-kinetics",
    ),
)(VideoMAE)

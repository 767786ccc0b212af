"""A list of a network's layer names, in words: the layers grouped into the blocks their names
share (Keras names blocks "block4_conv1", "block_8_project", "conv5_block1_1_conv",
"block6a_expand_conv"), so a report can say "the last 9 blocks (block_8 to block_16)" instead of
quoting 50 names, and list them in its annex.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditor.i18n import _, listing, ngettext

_BLOCK = re.compile(r"^((?:[A-Za-z]+\d*_)?block_?\d+[a-z]?)(?:_|$)")
NAMED_LAYERS = 4  # at most this many single layers are named in a sentence


@dataclass(frozen=True)
class LayerGroup:
    """Consecutive layers of one block (`block` its name), or one layer outside any block (`block` None)."""

    block: str | None
    layers: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.block or self.layers[0]


def layer_groups(layers: Sequence[str]) -> list[LayerGroup]:
    """`layers` (bottom to top) in runs sharing a block name; a layer outside a block is its own group."""
    groups: list[LayerGroup] = []
    for layer in layers:
        match = _BLOCK.match(layer)
        block = match.group(1) if match else None
        if block is not None and groups and groups[-1].block == block:
            groups[-1] = LayerGroup(block, (*groups[-1].layers, layer))
        else:
            groups.append(LayerGroup(block, (layer,)))
    return groups


def layers_in_words(layers: Sequence[str]) -> str:
    """'its last 9 blocks (block_8 to block_16, the lowest in part) and the 2 layers above them
    (Conv_1 and Conv_1_bn)', 'its top 3 layers with weights (conv2, bn2 and last_conv)', in the
    active language."""
    groups = layer_groups(layers)
    blocks = [g for g in groups if g.block is not None]
    others = [g.layers[0] for g in groups if g.block is None]
    if not blocks:
        # TRANSLATORS: the model's layers reset by a check; %(names)s lists layer names ("conv2, bn2 and last_conv").
        return ngettext("its top layer with weights (%(names)s)", "its top %(count)d layers with weights (%(names)s)",
                        len(others)) % {"count": len(others), "names": _names(others)}
    lowest = blocks[0]
    partial = len(blocks) > 1 and len(lowest.layers) < len(blocks[1].layers)
    span = _names([lowest.name] if len(blocks) == 1 else [lowest.name, blocks[-1].name], through=len(blocks) > 2)
    values = {"count": len(blocks), "span": span}
    if partial:
        text = ngettext("its last block (%(span)s, the lowest in part)",
                        "its last %(count)d blocks (%(span)s, the lowest in part)", len(blocks)) % values
    else:
        text = ngettext("its last block (%(span)s)", "its last %(count)d blocks (%(span)s)", len(blocks)) % values
    if not others:
        return text
    values = {"blocks": text, "count": len(others), "names": _names(others)}
    if groups[-1].block is None and groups[0].block is not None:
        # TRANSLATORS: %(blocks)s is "its last 9 blocks (…)"; the layers lie above those blocks.
        return ngettext("%(blocks)s and the layer above them (%(names)s)",
                        "%(blocks)s and the %(count)d layers above them (%(names)s)", len(others)) % values
    # TRANSLATORS: %(blocks)s is "its last 9 blocks (…)"; the layers lie beside those blocks.
    return ngettext("%(blocks)s and the layer beside them (%(names)s)",
                    "%(blocks)s and the %(count)d layers beside them (%(names)s)", len(others)) % values


def _names(names: Sequence[str], through: bool = False) -> str:
    """'a', 'a and b', 'a, b and c'; 'a to f' for more than NAMED_LAYERS names or a span (`through`)."""
    if through or len(names) > NAMED_LAYERS:
        # TRANSLATORS: a run of layers, from the first named to the last ("block_8 to block_16").
        return _("%(first)s to %(last)s") % {"first": names[0], "last": names[-1]}
    return listing(names)

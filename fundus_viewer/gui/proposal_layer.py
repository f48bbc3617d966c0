"""Box proposals drawn over the photo: dotted, not movable, one of them current (thicker), each with
its label and the share of the map's heat it holds. They are only shown: nothing of them is in the
annotation file until one is accepted."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from fundus_viewer.core.proposals import Proposal
from fundus_viewer.gui.box_layer import COLOURS


class ProposalLayer:
    def __init__(self, viewbox: pg.ViewBox):
        self.viewbox = viewbox
        self.proposals: list[Proposal] = []
        self.items: dict[int, pg.RectROI] = {}  # by id(): two proposals may be equal in value
        self.current = 0
        self.generation = 0  # each show() or clear() is a new set: commands of an older set leave this one alone

    def show(self, proposals: list[Proposal]) -> None:
        self.clear()
        for proposal in proposals:
            self._add(proposal, len(self.proposals))
        self._highlight()

    def clear(self) -> None:
        for item in self.items.values():
            self.viewbox.removeItem(item)
        self.items.clear()
        self.proposals = []
        self.current = 0
        self.generation += 1

    def holds(self, proposal: Proposal) -> bool:
        return any(p is proposal for p in self.proposals)

    def current_proposal(self) -> Proposal | None:
        return self.proposals[self.current] if self.proposals else None

    def remove(self, proposal: Proposal) -> int:
        """Take it off the screen; its place in the list (for an undo to put it back)."""
        index = next(i for i, p in enumerate(self.proposals) if p is proposal)
        self.proposals.pop(index)
        self.viewbox.removeItem(self.items.pop(id(proposal)))
        self.current = min(index, max(0, len(self.proposals) - 1))
        self._highlight()
        return index

    def restore(self, proposal: Proposal, index: int) -> None:
        self._add(proposal, min(index, len(self.proposals)))
        self.current = index
        self._highlight()

    def next(self) -> None:
        if self.proposals:
            self.current = (self.current + 1) % len(self.proposals)
            self._highlight()

    def _add(self, proposal: Proposal, index: int) -> None:
        item = pg.RectROI(
            [proposal.x, proposal.y], [proposal.w, proposal.h], movable=False, resizable=False, removable=False
        )
        for handle in item.getHandles():
            item.removeHandle(handle)
        item.setZValue(11)
        caption = pg.TextItem(
            f"{proposal.label}?  {proposal.heat_share:.0%} of the heat", color=COLOURS[proposal.label], anchor=(0, 1)
        )
        caption.setParentItem(item)
        item.setToolTip(f"Proposed {proposal.label} box ({proposal.origin}): A accepts, X rejects, ] the next proposal")
        self.viewbox.addItem(item)
        self.proposals.insert(index, proposal)
        self.items[id(proposal)] = item

    def _highlight(self) -> None:
        for index, proposal in enumerate(self.proposals):
            width = 4 if index == self.current else 2
            self.items[id(proposal)].setPen(pg.mkPen(COLOURS[proposal.label], width=width, style=Qt.PenStyle.DotLine))

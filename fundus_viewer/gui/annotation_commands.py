"""Undoable box edits. Each command writes the annotation store first and updates the screen after,
so what is drawn is what is on disk; a write that fails leaves the screen as the file is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from fundus_viewer.core.annotations import AnnotationError, AnnotationStore, Box
from fundus_viewer.gui.box_layer import BoxLayer

if TYPE_CHECKING:
    from collections.abc import Callable

    from fundus_viewer.core.proposals import Proposal
    from fundus_viewer.gui.proposal_layer import ProposalLayer


class BoxCommand(QUndoCommand):
    """``error`` holds the message of a write that failed; the command then drops off the stack.

    ``failed(which, message)``, once set, hears of a failed "undo" or "redo": those run inside the undo
    stack, where nobody else would see the error.
    """

    error: str | None = None
    failed: Callable[[str, str], None] | None = None

    def redo(self) -> None:
        self._guard(self.do, "redo")

    def undo(self) -> None:
        self._guard(self.undo_it, "undo")

    def _guard(self, action: Callable[[], None], which: str) -> None:
        try:
            action()
            self.error = None
        except AnnotationError as exc:
            self.error = str(exc)
            self.setObsolete(True)
            if self.failed is not None:
                self.failed(which, self.error)


class AddBox(BoxCommand):
    def __init__(self, store: AnnotationStore, layer: BoxLayer, box: Box):
        super().__init__(f"draw {box.label} box")
        self.store, self.layer, self.box = store, layer, box

    def do(self) -> None:
        self.store.add(self.box)  # with its id: after an undone delete the box comes back as it was
        self.layer.add(self.box)
        self.layer.select(self.box.box_id)

    def undo_it(self) -> None:
        self.store.delete(self.box)
        self.layer.remove(self.box.box_id)


class DeleteBox(AddBox):
    """An AddBox run backwards."""

    def __init__(self, store: AnnotationStore, layer: BoxLayer, box: Box):
        super().__init__(store, layer, box)
        self.setText(f"delete {box.label} box")

    def do(self) -> None:
        super().undo_it()

    def undo_it(self) -> None:
        super().do()


class EditBox(BoxCommand):
    """A move, a resize or a change of label."""

    def __init__(self, store: AnnotationStore, layer: BoxLayer, old: Box, new: Box, text: str = "move box"):
        super().__init__(text)
        self.store, self.layer, self.old, self.new = store, layer, old, new

    def do(self) -> None:
        self._show(self.new)

    def undo_it(self) -> None:
        self._show(self.old)

    def _show(self, box: Box) -> None:
        self.store.update(box)
        if box.label != self.layer.items[box.box_id].box.label:
            self.layer.remove(box.box_id)
            self.layer.add(box)
        else:
            self.layer.update(box)
        self.layer.select(box.box_id)


class AcceptProposal(BoxCommand):
    """A proposal becomes an ordinary box of the annotator's, with its origin recorded; undone, the box
    (and its origin) goes and the proposal is back where it was, if its set is still on screen (proposing
    again replaces the set: the box's part of the command still works)."""

    def __init__(self, store: AnnotationStore, layer: BoxLayer, proposals: ProposalLayer, proposal: Proposal, box: Box):
        super().__init__(f"accept proposed {box.label} box")
        self.store, self.layer, self.proposals, self.proposal, self.box = store, layer, proposals, proposal, box
        self.index, self.generation = 0, proposals.generation

    def do(self) -> None:
        self.store.add(self.box, origin=self.proposal.origin)
        self.layer.add(self.box)
        self.layer.select(self.box.box_id)
        if self.proposals.generation == self.generation and self.proposals.holds(self.proposal):
            self.index = self.proposals.remove(self.proposal)

    def undo_it(self) -> None:
        self.store.delete(self.box)
        self.store.forget_origin(self.box.box_id)
        self.layer.remove(self.box.box_id)
        if self.proposals.generation == self.generation and not self.proposals.holds(self.proposal):
            self.proposals.restore(self.proposal, self.index)


class RejectProposal(BoxCommand):
    """Nothing is written: the proposal leaves the screen (and comes back on undo) while its set is on screen."""

    def __init__(self, proposals: ProposalLayer, proposal: Proposal):
        super().__init__(f"reject proposed {proposal.label} box")
        self.proposals, self.proposal, self.index, self.generation = proposals, proposal, 0, proposals.generation

    def do(self) -> None:
        if self.proposals.generation == self.generation and self.proposals.holds(self.proposal):
            self.index = self.proposals.remove(self.proposal)

    def undo_it(self) -> None:
        if self.proposals.generation == self.generation and not self.proposals.holds(self.proposal):
            self.proposals.restore(self.proposal, self.index)

"""The folder list remembers what the classifier said (core.results_cache): every result is stored as it
arrives, and a folder listed again, or after a restart, shows the numbers of the photos already analysed
by the model now loaded, without analysing them again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fundus_viewer.core.results_cache import ResultsCache


class ResultMemoryMixin:
    _results_cache: ResultsCache | None | bool = False  # False: not opened yet; None: unavailable

    def _results(self) -> ResultsCache | None:
        if self._results_cache is False:
            from fundus_viewer.core.results_cache import ResultsCache

            self._results_cache = ResultsCache.open()
        return self._results_cache

    def _remember_result(self) -> None:
        """The photo on screen's P, call, vCDR and OOD flag, as far as they are known now."""
        analysis, loaded = self.analysis, self.model_loaded
        if analysis is None or loaded is None or not loaded.digest or (cache := self._results()) is None:
            return
        from fundus_viewer.core.results_cache import Result

        measured = self.cup_disc
        result = Result(
            analysis.probability,
            loaded.model.calls_glaucoma(analysis.probability),
            None if measured is None or measured.disc is None else float(measured.vcdr),
            None if analysis.ood is None else bool(analysis.ood.flagged),
        )
        cache.remember(Path(self.photo.path), loaded.digest, result)
        self.photos.set_result(analysis.image.name, result)

    def _recall_results(self) -> None:
        """Show the remembered numbers of the listed photos (for the model loaded now)."""
        loaded = self.model_loaded
        if self.photos.folder is None or loaded is None or not loaded.digest or (cache := self._results()) is None:
            return
        for photo, result in cache.recall(self.photos.paths(), loaded.digest).items():
            if photo.name not in self.photos.probabilities:  # what this session measured stands
                self.photos.set_result(photo.name, result)

"""Training (steps 4 and 5 of smoke): the optimizer steps, and the batch size search.

Owns :class:`Trainer`: it draws full batches, inspects each sample once (dropping the ones the
model cannot take), runs SGD steps with every loss term and the gradient norm checked for
finiteness, then judges the loss trend and the throughput; :meth:`Trainer.find_batch_size`
doubles the batch until out of memory. torch is imported when a trainer is built, never at import.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from typing import Any

from detlint.fileio import progress_enabled
from detlint.smoke import diagnose
from detlint.smoke.device import empty_cache, is_oom, reset_peak, synchronize, to_device
from detlint.smoke.diagnose import Diagnoses
from detlint.smoke.inspect import Inspection, inspect_sample
from detlint.smoke.loader import Failure, batches
from detlint.smoke.report import SmokeReport, Step

DIVERGENCE_FACTOR = 10.0


class Trainer:
    """A detector, its dataset and an SGD optimizer on one device, with the diagnoses so far."""

    def __init__(self, model: Any, dataset: Any, device: Any, lr: float, background: bool,
                 progress: bool | None):
        import torch

        self.model = model
        self.dataset = dataset
        self.device = device
        self.background = background
        self.num_classes = dataset.num_classes
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=lr, momentum=0.9, weight_decay=1e-4)
        self.diagnoses = Diagnoses()
        self.totals = Inspection()
        self.verdicts: dict[int, bool] = {}  # dataset index -> the sample can go to the model
        self.progress = progress_enabled() if progress is None else progress
        self.usable = False  # at least one step ran without raising

    # steps ------------------------------------------------------------------------------------

    def train(self, steps: int, batch_size: int, num_workers: int, report: SmokeReport) -> None:
        """Run up to ``steps`` steps into ``report`` (steps, inspected totals, throughput)."""
        loader = batches(self.dataset, batch_size, num_workers)
        self.model.train()
        reset_peak(self.device)
        for step in _progress(range(1, steps + 1), steps, self.progress):
            started = time.perf_counter()
            try:
                batch = next(loader)
            except Exception as error:  # noqa: BLE001 - a worker crash or a failing sampler: nothing more to train on
                self.diagnoses.add(diagnose.loader_failed(error))
                break
            images, targets = self._clean_batch(batch)
            data_time = time.perf_counter() - started
            if not images:
                continue
            result = self._step(step, images, targets, data_time)
            if result is None:
                break
            report.steps.append(result)
        report.inspected = self.totals.to_dict()
        self._judge(report)

    def _clean_batch(self, batch: list) -> tuple[list, list]:
        """Inspect a batch of (index, sample); keep the samples the model can take."""
        keep_images, keep_targets = [], []
        for index, sample in batch:
            if isinstance(sample, Failure):
                self.diagnoses.add(diagnose.sample_loading_failed(index, sample.file, sample.error))
                continue
            usable = self.verdicts.get(index)
            if usable is None:  # each sample is inspected once, however often the steps cycle
                usable = inspect_sample(index, sample, self.num_classes, self.background, self.totals,
                                        self.diagnoses)
                self.verdicts[index] = usable
            if usable:
                keep_images.append(sample[0])
                keep_targets.append(sample[1])
        return keep_images, keep_targets

    def _step(self, step: int, images: list, targets: list, data_time: float) -> Step | None:
        images, targets = to_device(images, targets, self.device)
        started = time.perf_counter()
        try:
            self.optimizer.zero_grad(set_to_none=True)
            loss_terms = self.model(images, targets)
            total = sum(loss_terms.values())
            total.backward()
            grad_norm = _grad_norm(self.params)
            terms = {k: float(v.detach()) for k, v in loss_terms.items()}
            finite = all(math.isfinite(v) for v in terms.values()) and math.isfinite(grad_norm)
            if finite:  # a NaN update would poison every later step and hide what caused it
                self.optimizer.step()
            synchronize(self.device)
        except Exception as error:  # noqa: BLE001 - whatever the model raises is diagnosed
            self._step_failed(step, len(images), error)
            return None
        self.usable = True
        self._check_finite(step, terms, grad_norm)
        return Step(step=step, loss=float(total.detach()), loss_terms=terms, grad_norm=grad_norm,
                    time_s=time.perf_counter() - started, data_time_s=data_time, batch_size=len(images))

    def _step_failed(self, step: int, batch_size: int, error: BaseException) -> None:
        if is_oom(error):
            self.diagnoses.add(diagnose.out_of_memory(step, batch_size))
            return
        self.diagnoses.add(diagnose.step_failed(step, error, self.diagnoses.codes()))

    def _check_finite(self, step: int, terms: dict[str, float], grad_norm: float) -> None:
        bad = [k for k, v in terms.items() if not math.isfinite(v)]
        if bad:
            self.diagnoses.add(diagnose.non_finite_loss(step, terms, bad))
        elif not math.isfinite(grad_norm):
            self.diagnoses.add(diagnose.non_finite_gradient(step, grad_norm))

    # after the steps --------------------------------------------------------------------------

    def _judge(self, report: SmokeReport) -> None:
        """The diagnoses about the run as a whole, and the throughput."""
        if not report.steps and not any(d.severity == "error" for d in self.diagnoses.as_list()):
            self.diagnoses.add(diagnose.no_step_ran())
        totals = self.totals
        if totals.empty and totals.samples:
            self.diagnoses.add(diagnose.empty_targets(totals.empty, totals.samples))
        losses = [s.loss for s in report.steps if s.loss is not None and math.isfinite(s.loss)]
        if len(losses) >= 2 and losses[0] > 0 and losses[-1] > DIVERGENCE_FACTOR * losses[0]:
            self.diagnoses.add(diagnose.loss_diverging(losses[0], losses[-1], len(losses)))
        report.throughput = _throughput(report.steps)

    # batch size search ------------------------------------------------------------------------

    def find_batch_size(self, start: int, cap: int) -> dict[str, Any]:
        """Double the batch from ``start`` until out of memory or past ``cap``."""
        pool = self._sample_pool(min(max(start, cap), len(self.dataset)))
        trials: list[dict[str, Any]] = []
        largest, reason, size = None, f"reached the cap {cap}", start
        while size <= max(cap, start):
            fits, error = self._trial(pool, size)
            trials.append({"batch_size": size, "fits": fits, "error": error})
            if not fits:
                reason = f"out of memory at batch size {size}" if error == "out of memory" else error
                break
            largest = size
            size *= 2
        self.optimizer.zero_grad(set_to_none=True)
        return {"largest": largest, "limit": reason, "cap": cap, "trials": trials}

    def _sample_pool(self, count: int) -> list[tuple[Any, Any]]:
        pool = []
        for index in range(count):
            try:
                sample = self.dataset[index]
            except Exception:  # noqa: BLE001, S112 - already diagnosed during the steps when it matters
                continue
            if inspect_sample(index, sample, self.num_classes, self.background, Inspection(), Diagnoses()):
                pool.append(sample)
        return pool

    def _trial(self, pool: list, size: int) -> tuple[bool, str | None]:
        if not pool:
            return False, "no usable samples"
        batch = [pool[i % len(pool)] for i in range(size)]
        images, targets = to_device([b[0] for b in batch], [b[1] for b in batch], self.device)
        try:
            self.optimizer.zero_grad(set_to_none=True)
            losses = self.model(images, targets)
            sum(losses.values()).backward()
            synchronize(self.device)
            return True, None
        except Exception as error:  # noqa: BLE001 - a trial that fails is reported, not raised
            if is_oom(error):
                return False, "out of memory"
            return False, f"{type(error).__name__}: {diagnose.last_line(error)}"
        finally:
            del images, targets
            empty_cache(self.device)


def _grad_norm(params: list) -> float:
    import torch

    norms = [p.grad.detach().norm(2) for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(norms), 2))


def _throughput(steps: list[Step]) -> dict[str, float | None]:
    """Images and steps per second, leaving the first (warm-up) step out when there are more."""
    timed = steps[1:] if len(steps) > 1 else steps
    seconds = sum(s.time_s + s.data_time_s for s in timed)
    if not timed or seconds <= 0:
        return {"images_per_s": None, "steps_per_s": None}
    return {"images_per_s": sum(s.batch_size for s in timed) / seconds, "steps_per_s": len(timed) / seconds}


def _progress(steps: range, total: int, enabled: bool) -> Iterator[int]:
    if not enabled:
        yield from steps
        return
    # lazy: only when a progress bar is shown (as in detlint.fileio)
    from tqdm import tqdm

    yield from tqdm(steps, total=total, desc="smoke", unit="step", file=sys.stderr, leave=False)

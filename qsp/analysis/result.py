"""The result of a local sensitivity analysis: arrays, a ranked table, plots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError


@dataclass(frozen=True, eq=False)
class LocalSensitivity:
    r"""Local sensitivities from :func:`qsp.sensitivity`.

    Attributes:
        times: output times (T,).
        outputs: output names (O).
        inputs: input names (I): parameters, then ``dose{k}.amount``, ``dose{k}.time``,
            ``dose{k}.duration``.
        kinds: per input ``"parameter"``, ``"amount"``, ``"time"`` or ``"duration"``.
        values: the inputs' nominal values (I,): the point of expansion.
        scale: per input, the reference used to normalise: its value, or 1 for dose times.
        y: the outputs (O, T).
        raw: :math:`\partial y / \partial x`, shape (O, T, I).

    ``normalised`` is :math:`\partial \log y / \partial \log x` (O, T, I) (per unit time for
    dose times), see :func:`qsp.sensitivity`.

    Example:
        >>> import numpy as np
        >>> s = LocalSensitivity(times=np.array([1.0, 2.0]), outputs=("C",), inputs=("k",), kinds=("parameter",),
        ...                      values=np.array([0.5]), scale=np.array([0.5]),
        ...                      y=np.array([[2.0, 1.0]]), raw=np.array([[[-2.0], [-2.0]]]))
        >>> s.normalised[0, :, 0].tolist()       # raw * k / y
        [-0.5, -1.0]
        >>> s.table()[["input", "peak", "time_of_peak"]].values.tolist()
        [['k', -1.0, 2.0]]
    """

    times: np.ndarray
    outputs: tuple
    inputs: tuple
    kinds: tuple
    values: np.ndarray
    scale: np.ndarray
    y: np.ndarray
    raw: np.ndarray

    @property
    def normalised(self) -> np.ndarray:
        """:math:`S\\,x / y` (O, T, I); 0 where y = 0 and S = 0, NaN where y = 0 and S ≠ 0."""
        y = self.y[:, :, None]
        scaled = self.raw * self.scale[None, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = scaled / y
        return np.where(y == 0.0, np.where(scaled == 0.0, 0.0, np.nan), out)

    def _output(self, name) -> int:
        if name is None:
            return 0
        try:
            return self.outputs.index(name)
        except ValueError:
            raise ModelError(f"no output {name!r} in this analysis; outputs: {', '.join(self.outputs)}.") from None

    def _input(self, name) -> int:
        try:
            return self.inputs.index(name)
        except ValueError:
            raise ModelError(f"no input {name!r} in this analysis; inputs: {', '.join(self.inputs)}.") from None

    def of(self, output: str, input: str, normalised: bool = False) -> np.ndarray:  # noqa: A002
        """The sensitivity of one output to one input over time (T,)."""
        values = self.normalised if normalised else self.raw
        return values[self._output(output), :, self._input(input)]

    def table(self, normalised: bool = True, by: str = "mean_abs"):
        r"""A ranked table (pandas), one row per (output, input), most influential first.

        Columns: ``output``, ``input``, ``kind``, ``value`` (nominal), ``peak`` (the signed
        sensitivity where its magnitude is largest), ``time_of_peak``, ``mean_abs`` (the time
        average of :math:`|S|` by the trapezoidal rule over the output times) and ``rank``
        (1 = most influential for that output, by ``by``: ``"mean_abs"`` or ``"peak"``).
        Normalised sensitivities by default (comparable across inputs of different units).
        """
        import pandas as pd

        if by not in ("mean_abs", "peak"):
            raise ModelError(f"by={by!r}; rank by 'mean_abs' or 'peak'.")
        values = self.normalised if normalised else self.raw
        t = self.times
        span = t[-1] - t[0]
        rows = []
        for o, output in enumerate(self.outputs):
            for i, name in enumerate(self.inputs):
                s = values[o, :, i]
                finite = np.isfinite(s)
                a = np.where(finite, np.abs(s), 0.0)
                k = int(np.argmax(a))
                if span > 0:
                    mean_abs = float(np.sum(np.diff(t) * (a[1:] + a[:-1]) / 2.0) / span)
                else:
                    mean_abs = float(a.mean())
                rows.append(dict(output=output, input=name, kind=self.kinds[i], value=float(self.values[i]),
                                 peak=float(s[k]) if finite.any() else np.nan, time_of_peak=float(t[k]),
                                 mean_abs=mean_abs))
        df = pd.DataFrame(rows)
        key = df[by].abs()
        df["rank"] = key.groupby(df["output"]).rank(ascending=False, method="first").astype(int)
        order = {name: j for j, name in enumerate(self.outputs)}
        df = df.sort_values(["output", "rank"], key=lambda c: c.map(order) if c.name == "output" else c)
        return df.reset_index(drop=True)

    def to_pandas(self):
        """A long table: ``time``, ``output``, ``input``, ``raw``, ``normalised``, one row each."""
        import pandas as pd

        o, t, i = np.meshgrid(np.arange(len(self.outputs)), np.arange(len(self.times)), np.arange(len(self.inputs)),
                              indexing="ij")
        return pd.DataFrame(dict(time=self.times[t.ravel()], output=np.asarray(self.outputs)[o.ravel()],
                                 input=np.asarray(self.inputs)[i.ravel()], raw=self.raw.ravel(),
                                 normalised=self.normalised.ravel()))

    def plot_heatmap(self, output: str | None = None, normalised: bool = True, ax=None):
        """Heat map of one output's sensitivities: inputs (rows, ranked) against time (columns).

        Needs matplotlib. Returns the axes.

        Example:
            >>> s.plot_heatmap("C")            # doctest: +SKIP
        """
        from .plots import heatmap

        return heatmap(self, self._output(output), normalised, ax)

    def plot_tornado(self, output: str | None = None, time: float | None = None, normalised: bool = True,
                     top: int | None = 15, ax=None):
        """Tornado chart: one bar per input, largest first, of one output's sensitivity at
        ``time`` (the output time nearest to it), or of each input's ``peak`` when ``time`` is None.

        With normalised sensitivities a bar reads: a 1 % rise in the input changes the output by
        that many per cent (per unit time of a later dose, for dose times). Needs matplotlib.

        Example:
            >>> s.plot_tornado("C", time=12.0)  # doctest: +SKIP
        """
        from .plots import tornado

        return tornado(self, self._output(output), time, normalised, top, ax)

    def __repr__(self) -> str:
        return (f"LocalSensitivity({len(self.outputs)} outputs × {len(self.times)} times × {len(self.inputs)} inputs: "
                f"{', '.join(self.inputs[:6])}{'...' if len(self.inputs) > 6 else ''})")

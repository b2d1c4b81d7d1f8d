"""Sub-command ``snninit advise``: which initialisation rule and threshold for my network?"""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``advise`` to the ``snninit`` command."""
    from .._cliutil import add_network_arguments

    p = subparsers.add_parser(
        "advise",
        help="recommend an initialisation rule and threshold range for a network",
        description=(
            "Evaluate every data-free rule on a grid of thresholds for the network's "
            "shape (width, layers, steps, beta, reset, neuron model) with the theory: the "
            "last layer's rate against a target, the first volley's extinction probability "
            "at this width, the break-up depth and the gradients' gain per layer; print the "
            "table and the recommendation. --check simulates the recommended network. "
            "--theta and --init are what is chosen and cannot be given."
        ),
    )
    add_network_arguments(p)
    p.add_argument("--target-rate", type=float, help="wanted rate of the last layer per step "
                   "(default: the first layer of neurons' at each threshold)")
    p.add_argument("--rules", default="micheli,dmft,kaiming", help="comma-separated rules")
    p.add_argument("--thetas", default="0.25,0.5,0.75,1,1.25,1.5,1.75,2",
                   help="comma-separated thresholds")
    p.add_argument("--check", action="store_true", help="simulate the recommendation (10 nets)")
    p.add_argument("--figure", metavar="PNG", help="also draw the (theta, beta) phase diagram")
    p.add_argument("--for-model", metavar="MODEL",
                   help="take the network's shape from a model saved by snninit.torch.save_model")
    p.add_argument("--sample", metavar="FILE.npy",
                   help="your inputs, (batch, *features) fed at every step (or with --sequence "
                   "(time, batch, *features)): the rates come from the theory on this data")
    p.add_argument("--sequence", action="store_true",
                   help="--sample holds one input per step (e.g. spikegen.rate trains); its "
                   "length is the number of steps")
    p.add_argument("--samples", type=int, default=50,
                   help="use the first SAMPLES rows of --sample (the theory's cost grows with it)")
    p.add_argument("--no-encoding-layer", action="store_true",
                   help="the inputs go straight into the first weight layer (snntorch's "
                   "Linear-first layout) instead of through an encoding neuron")
    p.set_defaults(func=_run)


def _run(args) -> None:
    from .._cliutil import config_from_args, network_flags_given
    from .advice import advise, phase_figure

    chosen = [f for f in network_flags_given(args) if f in ("--theta", "--init", "--init-param")]
    if chosen:
        raise ValueError(f"advise chooses theta and init; do not give {', '.join(chosen)}")
    cfg = config_from_args(args)
    if (args.sequence or args.no_encoding_layer) and not args.sample:
        raise ValueError("--sequence and --no-encoding-layer need --sample FILE.npy")
    inputs = None
    if args.sample:
        inputs = _sample_rows(args.sample, args.sequence)
        if args.sequence:
            if "--steps" in network_flags_given(args) and cfg.steps != inputs.shape[1]:
                raise ValueError(f"--steps {cfg.steps} disagrees with the --sequence sample's "
                                 f"{inputs.shape[1]} steps (leave --steps out)")
            cfg = cfg.replace(steps=inputs.shape[1])
    encode = not args.no_encoding_layer
    if args.for_model:
        extra = [f for f in network_flags_given(args) if f != "--steps"]
        if extra:
            raise ValueError(f"--for-model reads the network from the model; do not also give "
                             f"{', '.join(extra)} (only --steps)")
        if args.no_encoding_layer:
            raise ValueError("--for-model reads the layout from the model; do not also give "
                             "--no-encoding-layer")
        cfg, encode, n_in = _model_shape(args.for_model, cfg.steps)
        if not encode and inputs is None:
            raise ValueError("--for-model: the model's first layer is a Linear fed the inputs "
                             "themselves; give --sample FILE.npy (the theory starts from them)")
        if inputs is not None and inputs.shape[-1] != n_in:
            raise ValueError(f"--sample has {inputs.shape[-1]} features per row; the model "
                             f"takes {n_in}")
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    try:
        thetas = [float(t) for t in args.thetas.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--thetas must be comma-separated numbers; got {args.thetas!r}") from None
    if args.figure:
        _check_figure(args.figure, thetas)
    advice = advise(cfg, target_rate=args.target_rate, rules=rules, thetas=thetas,
                    check=args.check, inputs=inputs, encode=encode, samples=args.samples)
    print(advice.summary())
    if args.figure:
        phase_figure(advice, args.figure)
        print(f"figure: {args.figure}")


def _check_figure(path: str, thetas) -> None:
    """--figure must be writable, of a format matplotlib writes, with two thresholds to draw."""
    from .._io import check_writable

    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"--figure: no such folder {str(target.parent)!r}")
    check_writable(target, "--figure")
    if target.suffix.lower().lstrip(".") not in ("png", "pdf", "svg", "jpg", "jpeg", "eps"):
        raise ValueError(f"--figure must end in .png, .pdf, .svg, .jpg or .eps; got {path!r}")
    if len(thetas) < 2:
        raise ValueError("--figure needs at least two --thetas (a diagram over theta)")


def _sample_rows(path: str, sequence: bool):
    """``--sample``: a numeric .npy as ``(samples, n_0)``, or ``(samples, steps, n_0)``."""
    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"--sample: no such file {path!r}")
    if file.suffix != ".npy":
        raise ValueError(f"--sample must be a .npy file (numpy.save); got {path!r}")
    try:
        arr = np.load(file, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"--sample {path} is not a numeric .npy array: {exc}") from None
    if sequence:
        if arr.ndim < 3:
            raise ValueError(f"--sequence: --sample must be (time, batch, *features); got shape "
                             f"{arr.shape}")
        return np.moveaxis(arr.reshape(arr.shape[0], arr.shape[1], -1), 0, 1)
    if arr.ndim < 2:
        raise ValueError(f"--sample must be (batch, *features); got shape {arr.shape}")
    return arr.reshape(arr.shape[0], -1)


def _model_shape(path: str, steps: int):
    """``(cfg, encode, n_0)`` of a saved snntorch model (the rule is what advise picks)."""
    if not Path(path).is_file():
        raise ValueError(f"--for-model: no such file {path!r}")
    try:
        from ..torch import load_model, network_config
    except ImportError as exc:
        raise ValueError(f"--for-model needs torch and snntorch installed ({exc})") from None
    import torch

    model = load_model(path)
    with torch.no_grad():  # the advice is for init_snntorch's weights, which zero the biases
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.zero_()
    try:
        cfg = network_config(model, steps, init="kaiming", input_layer=True)
    except ValueError as exc:
        raise ValueError(
            f"--for-model: advise needs one of our simulated networks (an encoding neuron or "
            f"a first Linear fed the inputs, then square bias-free Linear layers each "
            f"followed by a neuron): {exc}"
        ) from None
    from ..torch.snntorch_model import _layout

    layout = _layout(model)
    n_in = cfg.width if layout.has_encoding else layout.weights[0].module.in_features
    return cfg, layout.has_encoding, n_in

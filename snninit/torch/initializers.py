"""``torch.nn.init``-style initialisers backed by the snninit rule registry.

``init_(w, rule="micheli", theta=1.0)`` fills ``w`` in place with i.i.d.
weights of mean ``E[w]`` and variance ``Var[w]`` given by the rule for the
fan-in of ``w``, exactly as ``torch.nn.init.kaiming_normal_`` does for He's
rule. The fan-in is the one torch computes: ``weight.size(1) *
prod(weight.shape[2:])``, i.e. ``in_features`` for ``nn.Linear`` and
``in_channels / groups * prod(kernel_size)`` for ``nn.Conv1d/2d/3d``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_bool, check_choice, check_real
from ..config import check_limit
from ..theory.rules import get_rule, weight_mean, weight_variance

__all__ = ["init_", "fan_in", "rule_moments", "SUPPORTED_MODULES"]

#: Module types whose ``weight`` :func:`init_` initialises (fan-in as in torch).
SUPPORTED_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
DISTRIBUTIONS = ("normal", "uniform")


def _supported_names() -> str:
    return ", ".join(f"nn.{cls.__name__}" for cls in SUPPORTED_MODULES)


def fan_in(tensor_or_module) -> int:
    """Fan-in of a weight tensor or of a supported layer, computed as torch does.

    For a tensor with ``d >= 2`` dimensions: ``size(1) * prod(size(2:))``
    (``torch.nn.init._calculate_fan_in_and_fan_out``). For ``nn.Linear`` that
    is ``in_features``; for ``nn.ConvNd`` ``in_channels / groups *
    prod(kernel_size)``.

    Raises
    ------
    ValueError
        For a tensor with fewer than 2 dimensions (a bias) or a module type
        other than ``nn.Linear`` / ``nn.Conv1d/2d/3d``.
    """
    if isinstance(tensor_or_module, nn.Module):
        module = tensor_or_module
        if not isinstance(module, SUPPORTED_MODULES):
            raise ValueError(
                f"tensor_or_module must be a weight tensor or one of {_supported_names()}; "
                f"got {type(module).__name__} (pass its weight tensor to init the tensor "
                "with torch's fan-in convention)"
            )
        if isinstance(module, nn.Linear):
            return int(module.in_features)
        return int(module.in_channels // module.groups * math.prod(module.kernel_size))
    if not isinstance(tensor_or_module, torch.Tensor):
        raise ValueError(
            f"tensor_or_module must be a torch.Tensor or an nn.Module; "
            f"got {type(tensor_or_module).__name__}"
        )
    tensor = tensor_or_module
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor_or_module must have at least 2 dimensions (out, in, *kernel) to have "
            f"a fan-in; got shape {tuple(tensor.shape)} (biases are not initialised by a rule)"
        )
    return int(tensor.size(1) * math.prod(tensor.shape[2:]))


def _as_float(name: str, value) -> float:
    """A Python float from a number or a one-valued tensor (Leaky stores tensors)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1)
        if flat.numel() == 0 or not bool(torch.all(flat == flat[0])):
            raise ValueError(
                f"{name} must be one value for the whole layer; got a tensor with "
                f"{flat.numel()} different entries"
            )
        value = float(flat[0])
    return value


def rule_moments(
    rule: str,
    n_in: int,
    theta=1.0,
    beta=None,
    steps: int = 1,
    *,
    _allow_data: bool = False,
    **params,
):
    """Weight mean and variance ``(E[w], Var[w])`` of a data-free, layer-free rule.

    Parameters
    ----------
    rule : str
        A name from :func:`snninit.theory.rule_names`.
    n_in : int
        Fan-in, >= 1.
    theta, beta, steps
        Threshold (>= 0), leak in [0, 1] and number of time steps of the neuron
        the weights feed. ``beta=None`` means "not given": allowed only when the
        rule does not depend on the leak (checked by evaluating it at two leaks).
    **params
        The rule's own parameters.

    Raises
    ------
    ValueError
        For an unknown rule or parameter, a rule that needs data (unless its
        parameters stand in for the data, e.g. ``fluctuation`` with ``nu=``) or
        sets each layer differently (use :func:`snninit.torch.init_snntorch`), a
        rule that needs ``beta`` when none was given, or out-of-range input.
    """
    r = get_rule(rule, param="rule")
    if r.needs_data:
        # parameters may stand in for the data (e.g. fluctuation with nu=...): then the
        # rule has a closed form; otherwise it says why not
        try:
            return _closed_form(rule, n_in, theta, beta, steps, params)
        except ValueError as exc:
            if _allow_data:
                raise
            raise ValueError(
                f"rule {rule!r} needs data (forward passes) to initialise this tensor "
                f"({exc}); use snninit.torch.init_snntorch(model, sample=...)"
            ) from None
    if r.per_layer is not None:
        raise ValueError(
            f"rule {rule!r} sets each layer of a network differently and cannot "
            "initialise a single tensor; use snninit.torch.init_snntorch(model, ...)"
        )
    return _closed_form(rule, n_in, theta, beta, steps, params)


def _closed_form(rule, n_in, theta, beta, steps, params):
    n_in = check_limit("n_in", n_in)
    theta = check_real("theta", _as_float("theta", theta), low=0.0)
    steps = check_limit("steps", steps)
    kw = dict(steps=steps, **params)
    if beta is None:
        # The registry's default leak is 0; refuse to use it silently for a rule
        # whose weights depend on the leak.
        probe = [
            (
                float(weight_mean(rule, n_in, theta, beta=b, **kw)),
                float(weight_variance(rule, n_in, theta, beta=b, **kw)),
            )
            for b in (0.0, 0.5, 0.9)
        ]
        if any(
            not math.isclose(m, probe[0][0], rel_tol=1e-12)
            or not math.isclose(v, probe[0][1], rel_tol=1e-12)
            for m, v in probe[1:]
        ):
            raise ValueError(
                f"rule {rule!r} depends on the leak: pass beta= (in [0, 1], the leak "
                "of the neurons these weights feed)"
            )
        beta = 0.0
    beta = check_real("beta", _as_float("beta", beta), low=0.0, high=1.0)
    mean = float(weight_mean(rule, n_in, theta, beta=beta, **kw))
    var = float(weight_variance(rule, n_in, theta, beta=beta, **kw))
    return mean, var


def fill_(
    tensor: torch.Tensor,
    mean: float,
    var: float,
    distribution: str = "normal",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``tensor`` in place with i.i.d. values of the given mean and variance."""
    check_choice("distribution", distribution, DISTRIBUTIONS)
    std = math.sqrt(var)
    with torch.no_grad():
        if distribution == "normal":
            tensor.normal_(mean, std, generator=generator)
        else:  # U(mean - a, mean + a) has variance a^2 / 3
            half_width = math.sqrt(3.0) * std
            tensor.uniform_(mean - half_width, mean + half_width, generator=generator)
    return tensor


def init_(
    tensor_or_module,
    rule: str = "micheli",
    theta=1.0,
    beta=None,
    steps: int = 1,
    *,
    distribution: str = "normal",
    generator: torch.Generator | None = None,
    zero_bias: bool = True,
    **rule_params,
):
    """Initialise a weight in place with an snninit rule, like ``torch.nn.init``.

    Draws i.i.d. ``w ~ N(E[w], Var[w])`` (or the uniform distribution with the
    same two moments) where ``(E[w], Var[w]) = rule_moments(rule, fan_in(w),
    theta, beta, steps, **rule_params)``; e.g. Micheli's rule gives
    ``E[w] = 0, Var[w] = 1 / (n_in Q(theta))``.

    Parameters
    ----------
    tensor_or_module : torch.Tensor or nn.Linear or nn.Conv1d/2d/3d
        A floating-point weight with >= 2 dims (fan-in ``size(1) *
        prod(size(2:))``) or a layer, whose ``weight`` is filled.
    rule : str
        Any rule of :func:`snninit.theory.rule_names` that needs neither data
        nor a whole network (those are applied by :func:`init_snntorch`).
    theta : float or tensor
        Threshold of the neurons the weights feed (snntorch's ``threshold``).
    beta : float or tensor or None
        Their leak (snntorch's ``beta``); needed only by rules that use it.
    steps : int
        Number of simulation time steps, for rules that use it.
    distribution : {"normal", "uniform"}
        Weight distribution.
    generator : torch.Generator, optional
        Random source, as in ``torch.nn.init``.
    zero_bias : bool
        For a module: set its bias to 0, which the rules assume (they model
        ``u = W x`` without bias). Ignored for a tensor.
    **rule_params
        The rule's own parameters (``get_rule(rule).params``).

    Returns
    -------
    The argument ``tensor_or_module``, modified in place.

    Raises
    ------
    ValueError
        Unsupported module, a tensor without fan-in or not floating point,
        unknown rule or parameter, a rule that needs data or per-layer
        information, or out-of-range theta/beta/steps.
    """
    n_in = fan_in(tensor_or_module)  # also validates the argument's type
    zero_bias = check_bool("zero_bias", zero_bias)
    is_module = isinstance(tensor_or_module, nn.Module)
    weight = tensor_or_module.weight if is_module else tensor_or_module
    if not weight.is_floating_point():
        raise ValueError(f"tensor_or_module must be floating point; got dtype {weight.dtype}")
    mean, var = rule_moments(rule, n_in, theta, beta, steps, **rule_params)
    fill_(weight, mean, var, distribution, generator)
    if isinstance(tensor_or_module, nn.Module) and zero_bias and tensor_or_module.bias is not None:
        with torch.no_grad():
            tensor_or_module.bias.zero_()
    return tensor_or_module

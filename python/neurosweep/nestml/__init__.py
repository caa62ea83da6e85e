"""neurosweep's NESTML target: .nestml neuron models as neurosweep model headers (docs/NESTML.md).

    from neurosweep.nestml import generate
    g = generate("my_neuron.nestml", "out/")   # -> out/my_neuron.hpp, g.params, g.state
"""
from .generator import GENERATOR_VERSION, GeneratedModel, NestmlError, generate  # noqa: F401

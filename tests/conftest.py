"""Test-session settings.

The tests use tiny matrices, for which torch's intra-op threads only add OpenMP barrier
stalls (and on a shared 2-core machine those stalls cost 10x and more): one thread keeps the
suite fast and its timing stable. Nothing here changes what is computed.
"""

import torch

torch.set_num_threads(1)

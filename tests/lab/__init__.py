"""A network-namespace lab: disposable test hosts reachable from the root namespace.

See ``tests.lab.netns.Lab``; ``python -m tests.lab up|down|list`` for manual use (root).
"""

from tests.lab.netns import LAB_V4, LAB_V6, Lab, LabError, missing_requirement

__all__ = ["LAB_V4", "LAB_V6", "Lab", "LabError", "missing_requirement"]

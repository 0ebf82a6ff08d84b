"""The SimPy world: spec + seed -> RunRecord. The only package that imports simpy."""

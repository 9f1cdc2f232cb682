"""Engines run a plan (:mod:`losscli.analysis.plan`) over the batches of an input."""

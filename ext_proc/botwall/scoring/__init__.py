"""Scoring: the feature vector (`features`, one schema for training and serving), the transparent rule weighting
(`rules`), the ONNX confidence model (`model`) and the behavioural fingerprint (`fingerprint`).

May import config, evidence and the ground floor; never state, policy, the engine or the edge.
"""

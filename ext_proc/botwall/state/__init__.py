"""State that outlives a request: the store behind one small interface (`store`: behaviour windows, token
buckets, marks such as challenges handed out), botwall's signed client tokens (`tokens`), and the keyed, stable
hashes the windows count with (`keys`).

May import config and the ground floor; never scoring, policy, the engine or the edge.
"""

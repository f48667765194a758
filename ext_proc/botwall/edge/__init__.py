"""The edge: where botwall meets Envoy. The gRPC ext_proc server and its health service, the one module that
imports Envoy's generated API (`envoy_api`), the one that turns a Decision into a ProcessingResponse (`response`),
the decision log, and where a server listens.

May import the core (engine, policy, resources, state, scoring, config, evidence, the ground floor); nothing in the
core imports the edge.
"""

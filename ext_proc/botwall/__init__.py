"""botwall: server-side bot defence for Envoy, as an external-processing (ext_proc) service.

The package reads in the order a request flows, top to bottom; each layer imports only the layers below it
(import-linter checks this in `make lint`, contracts in pyproject.toml):

    cli                 the `botwall` command and its one error boundary
    lab/                simulator, training, evaluation, demo shop, local stack (`botwall up`), test helpers
    deploy/             Envoy's config, rendered from typed messages
    edge/               the gRPC server, Envoy's API, responses, the decision log, health
    engine              observe a request (evidence, counted in its windows), judge it, record its response
    policy              score + evidence -> Decision, purely
    resources           every loaded file (patterns, profiles, IP tables, password filter, model), built once
    state/ | scoring/   the store and botwall's tokens | features, rules, the model, the fingerprint
    config              the validated settings
    evidence/           the four pillars (tool, infrastructure in evidence/infra, credentials, behaviour)
    request, errors, clock   the ground floor
"""

__version__ = "0.1.0"

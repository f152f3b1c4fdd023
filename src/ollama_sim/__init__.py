"""An Ollama-API-compatible simulator.

It stands where Ollama would (development, demos, tests, load tests) so that the whole chain can be
exercised without a GPU or a model, with timings and faults that a test can choose per request.
"""

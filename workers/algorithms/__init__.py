"""The ML code of each registered algorithm: ``train(ctx)`` and ``infer(ctx)`` per module."""

from cordon_ops.cli import reconcile_app

reconcile_app()

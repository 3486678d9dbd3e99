"""Pages of the Carnet app, one module per page. How to add one (capability, guarded callbacks,
downloads, current user, contract scope, browser tests): see `dashboards/README.md`."""

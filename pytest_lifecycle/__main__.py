from pytest_lifecycle._cli import main

raise SystemExit(main())

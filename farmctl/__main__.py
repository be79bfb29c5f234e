from farmctl.cli import main

raise SystemExit(main())

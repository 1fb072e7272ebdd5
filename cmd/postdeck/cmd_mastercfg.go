package main

const masterConfigUsage = `usage: postdeck mastercfg get | set [--force] FILE (- for standard input)
  get prints a first line "# postdeck-version: V" and the master config document
  (master.cf without the MPA's services); set takes the line off and saves only
  when the stored document is still version V (else it shows the difference)`

// cmdMasterConfig is `postdeck mastercfg get|set`.
func cmdMasterConfig(args []string) error {
	return documentCommand{name: "mastercfg", route: "/api/v1/mastercfg", usage: masterConfigUsage}.run(args)
}

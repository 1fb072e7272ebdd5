package main

const mainConfigUsage = `usage: postdeck mainconfig get | set [--force] [--confirm] FILE (- for standard input)
  get prints a first line "# postdeck-version: V"; set takes it off and saves only
  when the stored document is still version V (else it shows the difference)`

// cmdMainConfig is `postdeck mainconfig get|set`.
func cmdMainConfig(args []string) error {
	return documentCommand{
		name: "mainconfig", route: "/api/v1/mainconfig", usage: mainConfigUsage,
		confirmHelp: "set: apply a risky document (smtpd_relay_restrictions without reject_unauth_destination)",
	}.run(args)
}

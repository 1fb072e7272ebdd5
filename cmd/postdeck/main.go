package main

import (
	"errors"
	"fmt"
	"os"
	"postdeck/store"
)

// version is set by the build (-ldflags -X main.version).
var version = "dev"

const usage = `usage: postdeck COMMAND [flags]

daemon:
  serve [--data DIR] [--postfix-config DIR] [--private-postfix] [--listen ADDR]
        [--socket PATH] [--smtp-listen ADDR] [--mpa-listen ADDR] [--reinject-listen ADDR]
        [--trusted-proxies CIDR,...] [--cluster-endpoints URL,... --node-name NAME] [--web-user USER]
        [--web-socket PATH] [--web-unit] ...
  web [--listen ADDR] [--web-socket PATH]   (the unprivileged console listener; serve
        starts it unless --web-unit)

clients (over the daemon's unix socket, --socket PATH or POSTDECK_SOCKET):
  status   (Postfix, the queue and its waiting domains, the MPA, the console's warnings;
        exits 1 when it shows an error)
  postfix start | stop | restart | log [--lines N]
  audit [--who NAME] [--what ACTION] [--result R] [--since T] [--until T] [--limit N]
  settings get | set [--force] [--confirm] KEY=VALUE...
  mainconfig get | set [--force] [--confirm] FILE
  mastercfg get | set [--force] FILE
  maps list | get NAME | set [--force] NAME TYPE FILE | delete NAME | lookup NAME KEY
  mpa queue | errors | error show ID | error delete|requeue ID... [--all] | pipeline get | set FILE
  queue list [--queue Q] [--q TEXT] [--sender S] [--recipient R] [--min-age 1h] | show ID | eml ID > FILE | flush
  queue delete|bounce|hold|release|requeue|retry ID... | the same with a filter
        (--queue, --q, --sender, --recipient @domain, --min-age) or --all, instead of ids
  sendmail --from A --to B[,C] --subject S [--sender E] [--mime] < body
  spf list | refresh NAME | add DOMAIN [--map NAME] [--schedule CRON] [--value ACTION] | remove NAME
  backup FILE | restore FILE
  import [--check | --dry-run] [--force] [--accept-changes] DIR   (offline: with the daemon stopped)
  unwire   (offline: takes the MPA out of Postfix's mail path; the package's removal runs it)
  cluster init|join (offline) | remove NAME | peer-token | status
        (--cluster-endpoints URL,... --node-name NAME [--cluster-ca F --cluster-cert F
         --cluster-key F] [--cluster-user U --cluster-password-file F])
  token list | create NAME --role ROLE [--expires 90d|DATE] | revoke NAME
  admin list | add USER --role ROLE | passwd USER | role USER ROLE | delete USER
        (roles: admin, operator, auditor; passwords from the terminal or stdin;
         a role change or deletion ends the user's sessions and lowers or
         revokes the tokens the user made in the console; the last
         administrator can be neither demoted nor deleted)

every client command takes --json to print the API's JSON; flags may stand
before or after the other arguments. A command typed wrong (an unknown
command or flag, an argument it does not take) exits 2 and sends nothing;
one the daemon refused or that failed exits 1. mainconfig get, mastercfg get and maps
get print a first line "# postdeck-version: V": set saves only when the
document is still at version V (--force saves regardless).
`

func main() {
	// A child started to check a backup's database (admin.ChildVerifier)
	// does only that.
	store.RunVerifyChild()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "web":
		err = cmdWeb(args)
	case "import":
		err = cmdImport(args)
	case "unwire":
		err = cmdUnwire(args)
	case "status":
		err = cmdStatus(args)
	case "settings":
		err = cmdSettings(args)
	case "mainconfig":
		err = cmdMainConfig(args)
	case "mastercfg":
		err = cmdMasterConfig(args)
	case "maps":
		err = cmdMaps(args)
	case "queue":
		err = cmdQueue(args)
	case "sendmail":
		err = cmdSendmail(args)
	case "backup":
		err = cmdBackup(args)
	case "restore":
		err = cmdRestore(args)
	case "spf":
		err = cmdSPF(args)
	case "mpa":
		err = cmdMPA(args)
	case "token":
		err = cmdToken(args)
	case "admin":
		err = cmdAdmin(args)
	case "cluster":
		err = cmdCluster(args)
	case "postfix":
		err = cmdPostfix(args)
	case "audit":
		err = cmdAudit(args)
	case "version", "--version":
		fmt.Println("postdeck", version)
		return
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "postdeck: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, errHelped) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "postdeck %s: %v\n", cmd, err)
		// A command typed wrong exits as an unknown one does.
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

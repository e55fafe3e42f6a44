// SPDX-License-Identifier: GPL-2.0
/*
 * cli_args.c - vfio-migrate argument parsing and help texts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name, *usage, *what;
} cmds[] = {
	[CLI_LOCAL] = { "local", "local --src DEV[,DEV...] --dst DEV[,DEV...] [options]",
			"migrate devices to other devices in this process" },
	[CLI_SEND] = { "send", "send --to HOST:PORT|unix:PATH [options] DEV...",
		       "migrate devices to a 'receive' endpoint" },
	[CLI_RECEIVE] = { "receive", "receive --listen HOST:PORT|unix:PATH [--port-file F] [options] DEV...",
			  "receive a migration into devices" },
	[CLI_INFO] = { "info", "info DEV...", "show migration flags, state and data size" },
	[CLI_PLOT] = { "plot", "plot REPORT.json [-o FILE.svg]",
		       "draw a JSON report as an SVG timeline (default output: stdout)" },
};

static void usage_all(FILE *f)
{
	fprintf(f, "usage: vfio-migrate COMMAND ...\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\nDEV is an mdev UUID or a PCI address.  'vfio-migrate COMMAND --help' for details.\n");
}

int cli_parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long long v;

	if (cli_parse_size(s, &v) || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int split_list(char *list, const char **out, unsigned *n)
{
	*n = 0;
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (*n == CLI_MAX_DEVS)
			return -E2BIG;
		out[(*n)++] = t;
	}
	return *n ? 0 : -EINVAL;
}

enum {
	O_TRANS = 256, O_CHANNELS, O_MAXQ, O_ROUNDS, O_THRESH, O_ACK, O_NOREINIT,
	O_FINAL, O_TIMEOUT, O_CHUNK, O_JSON, O_QUIET, O_INJECT, O_SRC, O_DST,
	O_TO, O_LISTEN, O_PORTFILE, O_MINPRE, O_NORESET, O_TRANSPORT,
};

#define FOR(c) (1u << (c))
#define MIGRATE (FOR(CLI_LOCAL) | FOR(CLI_SEND) | FOR(CLI_RECEIVE))
#define ALL (MIGRATE | FOR(CLI_INFO) | FOR(CLI_PLOT))

/*
 * Every option once: its name, argument, the commands it belongs to and
 * its help line.  Parsing accepts an option only for its commands, and
 * each command's help lists exactly its options, so the two cannot drift.
 */
static const struct cli_opt {
	const char *name;
	const char *arg;	/* NULL: a flag */
	int id;
	unsigned cmds;
	const char *help;
} opts[] = {
	{ "src", "DEV[,DEV...]", O_SRC, FOR(CLI_LOCAL), "source devices" },
	{ "dst", "DEV[,DEV...]", O_DST, FOR(CLI_LOCAL), "destination devices, in the same order" },
	{ "transport", "memory|socket", O_TRANSPORT, FOR(CLI_LOCAL),
	  "records handed over in memory (default) or through socketpairs" },
	{ "to", "HOST:PORT|unix:PATH", O_TO, FOR(CLI_SEND), "the receiving endpoint" },
	{ "listen", "HOST:PORT|unix:PATH", O_LISTEN, FOR(CLI_RECEIVE), "where to accept the source" },
	{ "port-file", "FILE", O_PORTFILE, FOR(CLI_RECEIVE), "write the bound port here once listening" },
	{ "transitions", "sequential|parallel", O_TRANS, MIGRATE,
	  "device state transitions (default parallel)" },
	{ "channels", "N", O_CHANNELS, MIGRATE,
	  "stop-copy channels, 1..16 (default one per device, at most 8)" },
	{ "max-queued", "BYTES", O_MAXQ, MIGRATE,
	  "destination: bytes queued for loading (default 64M, at least 1M+64)" },
	{ "max-rounds", "N", O_ROUNDS, MIGRATE, "precopy round limit (default 64)" },
	{ "threshold", "BYTES", O_THRESH, MIGRATE,
	  "switch over when MIG_DATA_SIZE + precopy initial+dirty fit (QEMU's rule; unlimited)" },
	{ "switchover-ack", "auto|off|legacy|per-device", O_ACK, MIGRATE, "(default auto)" },
	{ "no-reinit", NULL, O_NOREINIT, MIGRATE, "do not opt in to PRECOPY_INFOv2 (REINIT)" },
	{ "no-reset", NULL, O_NORESET, MIGRATE,
	  "refuse devices that are not RUNNING instead of resetting them" },
	{ "final-retries", "N", O_FINAL, MIGRATE,
	  "precopy retries when REINIT appears at switchover (3)" },
	{ "min-precopy-ms", "MS", O_MINPRE, MIGRATE, "keep precopy running at least MS (default 0)" },
	{ "timeout", "MS", O_TIMEOUT, MIGRATE, "peer silence that aborts the session (30000)" },
	{ "chunk", "BYTES", O_CHUNK, MIGRATE, "data fd read size (default 1M, max 1M)" },
	{ "json", "FILE", O_JSON, MIGRATE, "write the JSON report (docs/engine.md)" },
	{ "quiet", NULL, O_QUIET, MIGRATE, "no summary on stdout" },
	{ "inject", "ack-after-stop|reinit-at-final", O_INJECT, MIGRATE,
	  "engine fault hooks (tests)" },
	{ "output", "FILE.svg", 'o', FOR(CLI_PLOT), "where to write the SVG (-o; default stdout)" },
	{ "help", NULL, 'h', ALL, "this help (-h)" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct cli_opt *opt_by_id(int id)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].id == id)
			return &opts[i];
	return NULL;
}

static void usage_cmd(int cmd, FILE *f)
{
	char left[64];

	fprintf(f, "usage: vfio-migrate %s\n%s.\n\nOptions:\n", cmds[cmd].usage,
		cmds[cmd].what);
	for (size_t i = 0; i < NOPTS; i++) {
		if (!(opts[i].cmds & FOR(cmd)))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
			 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		if (strlen(left) > 24)	/* a long argument gets its own line */
			fprintf(f, "  %s\n  %-24s %s\n", left, "", opts[i].help);
		else
			fprintf(f, "  %-24s %s\n", left, opts[i].help);
	}
}

/* "'local', 'send' or 'receive'": the commands of mask @m. */
static void cmd_names(unsigned m, char *buf, size_t len)
{
	size_t off = 0;
	unsigned left = (unsigned)__builtin_popcount(m);

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && off < len; i++) {
		if (!(m & FOR((int)i)))
			continue;
		left--;
		off += (size_t)snprintf(buf + off, len - off, "'%s'%s", cmds[i].name,
					left > 1 ? ", " : left == 1 ? " or " : "");
	}
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int cli_parse(int argc, char **argv, struct cli_args *a, char *err,
	      size_t errlen)
{
	struct option lopts[NOPTS + 1];
	unsigned long long v;
	unsigned u;
	int c, cmd = -1;

	memset(a, 0, sizeof(*a));
	vfiomig_opts_init(&a->o);
	if (argc < 2)
		BAD("missing command (local, send, receive, info, plot); try --help");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage_all(stdout);
		return 1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			cmd = (int)i;
	if (cmd < 0)
		BAD("unknown command '%s' (local, send, receive, info, plot)", argv[1]);
	a->cmd = cmd;
	for (size_t i = 0; i < NOPTS; i++)
		lopts[i] = (struct option){ opts[i].name,
					    opts[i].arg ? required_argument : no_argument,
					    NULL, opts[i].id };
	lopts[NOPTS] = (struct option){ 0 };

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":ho:", lopts, NULL)) != -1) {
		const char *arg = optarg;
		const struct cli_opt *opt = opt_by_id(c);

		if (opt && !(opt->cmds & FOR(cmd))) {
			char names[64];

			if (opt->cmds == MIGRATE)
				BAD("%s: takes no migration options (--%s)", cmds[cmd].name,
				    opt->name);
			cmd_names(opt->cmds, names, sizeof(names));
			BAD("%s: --%s is only for %s", cmds[cmd].name, opt->name, names);
		}
		switch (c) {
		case 'h':
			usage_cmd(cmd, stdout);
			return 1;
		case 'o':
			a->output = arg;
			break;
		case O_NORESET:
			a->o.reset_stopped = false;
			break;
		case O_TRANS:
			if (!strcmp(arg, "parallel"))
				a->o.transitions = VFIOMIG_TRANSITIONS_PARALLEL;
			else if (!strcmp(arg, "sequential"))
				a->o.transitions = VFIOMIG_TRANSITIONS_SEQUENTIAL;
			else
				BAD("--transitions: '%s' is not sequential or parallel", arg);
			break;
		case O_TRANSPORT:
			if (!strcmp(arg, "memory"))
				a->socket_transport = false;
			else if (!strcmp(arg, "socket"))
				a->socket_transport = true;
			else
				BAD("--transport: '%s' is not memory or socket", arg);
			break;
		case O_CHANNELS:
			if (parse_uint(arg, VFIOMIG_WIRE_MAX_CHANNELS, &u) || !u)
				BAD("--channels: '%s' is not 1..%d", arg, VFIOMIG_WIRE_MAX_CHANNELS);
			a->o.channels = u;
			break;
		case O_MAXQ:
			if (cli_parse_size(arg, &v) || v < VFIOMIG_WIRE_MAX_DATA + 64ULL)
				BAD("--max-queued: '%s' is not a size of at least 1M+64", arg);
			a->o.max_queued = v;
			break;
		case O_ROUNDS:
			if (parse_uint(arg, 1000000, &u) || !u)
				BAD("--max-rounds: '%s' is not 1..1000000", arg);
			a->o.max_rounds = u;
			break;
		case O_THRESH:
			if (cli_parse_size(arg, &v))
				BAD("--threshold: '%s' is not a size", arg);
			a->o.threshold = v;
			break;
		case O_ACK:
			if (!strcmp(arg, "auto"))
				a->o.ack_mode = VFIOMIG_ACK_AUTO;
			else if (!strcmp(arg, "off"))
				a->o.ack_mode = VFIOMIG_ACK_OFF;
			else if (!strcmp(arg, "legacy"))
				a->o.ack_mode = VFIOMIG_ACK_LEGACY;
			else if (!strcmp(arg, "per-device"))
				a->o.ack_mode = VFIOMIG_ACK_PER_DEVICE;
			else
				BAD("--switchover-ack: '%s' is not auto, off, legacy or per-device", arg);
			break;
		case O_MINPRE:
			if (parse_uint(arg, 3600000, &u))
				BAD("--min-precopy-ms: '%s' is not 0..3600000", arg);
			a->o.min_precopy_ms = u;
			break;
		case O_NOREINIT:
			a->o.reinit = false;
			break;
		case O_FINAL:
			if (parse_uint(arg, 1000, &u))
				BAD("--final-retries: '%s' is not 0..1000", arg);
			a->o.final_retries = u;
			break;
		case O_TIMEOUT:
			if (parse_uint(arg, 3600000, &u) || u < 100)
				BAD("--timeout: '%s' is not 100..3600000 ms", arg);
			a->o.io_timeout_ms = u;
			break;
		case O_CHUNK:
			if (cli_parse_size(arg, &v) || !v || v > VFIOMIG_WIRE_MAX_DATA)
				BAD("--chunk: '%s' is not 1..1M", arg);
			a->o.chunk = v;
			break;
		case O_JSON:
			a->json = arg;
			break;
		case O_QUIET:
			a->quiet = true;
			break;
		case O_INJECT:
			if (!strcmp(arg, "ack-after-stop"))
				a->o.inject |= VFIOMIG_INJECT_ACK_AFTER_STOP;
			else if (!strcmp(arg, "reinit-at-final"))
				a->o.inject |= VFIOMIG_INJECT_REINIT_AT_FINAL;
			else
				BAD("--inject: '%s' is not ack-after-stop or reinit-at-final", arg);
			break;
		case O_SRC:
		case O_DST: {
			int k = c == O_SRC ? 0 : 1;
			free(a->lists[k]);
			a->lists[k] = strdup(arg);
			if (!a->lists[k])
				BAD("out of memory");
			int r = split_list(a->lists[k], k ? a->dst : a->src,
					   k ? &a->ndst : &a->nsrc);
			if (r)
				BAD("--%s: %s", k ? "dst" : "src",
				    r == -E2BIG ? "too many devices" : "empty device list");
			break;
		}
		case O_TO:
			a->addr = arg;
			break;
		case O_LISTEN:
			a->addr = arg;
			break;
		case O_PORTFILE:
			a->port_file = arg;
			break;
		case ':':
			BAD("%s: option '%s' needs a value", cmds[cmd].name, argv[optind]);
		default:
			BAD("%s: unknown option '%s'", cmds[cmd].name, argv[optind]);
		}
	}

	/* Positional devices (send, receive, info). */
	int first = optind + 1;
	unsigned npos = (unsigned)(argc - first);
	if (cmd == CLI_PLOT) {
		if (npos != 1)
			BAD("plot: exactly one JSON report expected");
		a->src[0] = argv[first];
		a->nsrc = 1;
		if (!a->output)
			a->output = "-";
		return 0;
	}
	if (cmd == CLI_LOCAL) {
		if (npos)
			BAD("local: unexpected argument '%s' (devices go in --src/--dst)", argv[first]);
		if (!a->nsrc || !a->ndst)
			BAD("local: --src and --dst are required");
		if (a->nsrc != a->ndst)
			BAD("local: %u source device(s) but %u destination device(s)",
			    a->nsrc, a->ndst);
		for (unsigned i = 0; i < a->nsrc; i++)
			for (unsigned j = 0; j < a->ndst; j++)
				if (!strcmp(a->src[i], a->dst[j]))
					BAD("local: device %s is both source and destination", a->src[i]);
	} else {
		if (!npos)
			BAD("%s: no devices given", cmds[cmd].name);
		if (npos > CLI_MAX_DEVS)
			BAD("%s: too many devices (max %d)", cmds[cmd].name, CLI_MAX_DEVS);
		for (unsigned i = 0; i < npos; i++)
			a->src[i] = argv[first + (int)i];
		a->nsrc = npos;
		if (cmd == CLI_SEND && !a->addr)
			BAD("send: --to HOST:PORT|unix:PATH is required");
		if (cmd == CLI_RECEIVE && !a->addr)
			BAD("receive: --listen HOST:PORT|unix:PATH is required");
	}
	for (unsigned i = 0; i < a->nsrc; i++)
		for (unsigned j = i + 1; j < a->nsrc; j++)
			if (!strcmp(a->src[i], a->src[j]))
				BAD("device %s listed twice", a->src[i]);
	for (unsigned i = 0; i < a->ndst; i++)
		for (unsigned j = i + 1; j < a->ndst; j++)
			if (!strcmp(a->dst[i], a->dst[j]))
				BAD("device %s listed twice", a->dst[i]);
	return 0;
}

void cli_args_free(struct cli_args *a)
{
	free(a->lists[0]);
	free(a->lists[1]);
	a->lists[0] = a->lists[1] = NULL;
}

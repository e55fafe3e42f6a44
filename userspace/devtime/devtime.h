/* SPDX-License-Identifier: GPL-2.0 */
/*
 * devtime.h - downtime as the devices saw it, from mockvf transition logs.
 *
 * A mockvf log (docs/mockvf.md, "Transition log") has one line per state
 * step, in completion order:
 *
 *	<start_ns> <end_ns> <FROM> <TO> <ret>[ <tag>]
 *
 * with CLOCK_MONOTONIC times, so the logs of all devices of a migration,
 * source and destination, share one clock.  A step with ret != 0 left the
 * device in ERROR, whatever TO says.
 *
 * The rules, per device, for the *last* migration in its log:
 *
 * Source.  Let K be the last successful step into STOP_COPY.  Walk back
 * from K over the chain of consecutive successful steps (each one's FROM is
 * the previous one's TO) whose TO is a stopped or P2P state (RUNNING_P2P,
 * PRE_COPY_P2P, STOP, STOP_COPY), up to the first one whose FROM is
 * RUNNING or PRE_COPY: that step, C, is where the device stopped running
 * for this migration, and its start_ns is the device's downtime start.
 * Examples: PRE_COPY->PRE_COPY_P2P->STOP_COPY (C is the first step),
 * RUNNING->RUNNING_P2P->STOP->STOP_COPY (nopre device), PRE_COPY->STOP_COPY
 * (no P2P).  Because the chain must be unbroken up to STOP_COPY, QEMU's
 * start-up RUNNING->RUNNING_P2P->RUNNING and a pause during precopy
 * (PRE_COPY->PRE_COPY_P2P->PRE_COPY) never count.  When C's FROM is
 * PRE_COPY, the migration began at the last *precopy entry* before C: a
 * successful step into PRE_COPY or PRE_COPY_P2P from a state that is
 * neither (RUNNING->PRE_COPY, RUNNING_P2P->PRE_COPY_P2P; leaving a pause is
 * not one).  Precopy time = C.start - that entry's end.  After K, the first
 * step out of STOP_COPY (normally to STOP) ends the time in STOP_COPY.
 * The log is refused when the last migration is incomplete: a precopy
 * entry, or a failed step into STOP_COPY, after K (a later migration that
 * never reached STOP_COPY), or no K at all.
 *
 * Destination.  Let Q be the last successful step into RESUMING and E the
 * first step after Q out of RESUMING; E must be a successful RESUMING->STOP
 * (the load commit).  From E, follow consecutive successful steps through
 * STOP and RUNNING_P2P until one reaches RUNNING: R.  R.end_ns is when the
 * device ran again.  A `reset` step or anything else breaks the chain and
 * the log is refused ("never reached RUNNING").  An entry into RESUMING
 * that failed after Q means the last migration is incomplete.
 *
 * Downtime = max over destinations of R.end - min over sources of C.start.
 * A destination whose R.end is before that start belongs to another
 * migration and is refused.
 *
 * Failed steps (ret != 0) from the start of the last migration on (the
 * PRE_COPY entry or C on a source, Q on a destination) to the end of the
 * log are reported; they make the result not ok but do not prevent the
 * downtime from being computed when the rules above still find it.
 *
 * Functions return 0 or a negative errno (-EINVAL for bad input, -ENOENT
 * for "no complete migration", -EIO for I/O) with a one-line message in err
 * naming the log and, for a parse error, the line number.
 */
#ifndef VFIO_MIGTEST_DEVTIME_H
#define VFIO_MIGTEST_DEVTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The eight migration states as mockvf names them (plus "unknown"). */
enum dt_state {
	DT_STOP, DT_RUNNING, DT_STOP_COPY, DT_RESUMING, DT_RUNNING_P2P,
	DT_PRE_COPY, DT_PRE_COPY_P2P, DT_ERROR, DT_NSTATES
};

const char *dt_state_name(enum dt_state s);
/* -1 if @name is not a state name. */
int dt_state_parse(const char *name);

struct dt_step {
	uint64_t start_ns, end_ns;
	enum dt_state from, to;
	int ret;		/* 0 or -errno */
	char tag[16];		/* "" when absent */
	unsigned line;		/* 1-based line in the log */
};

struct dt_log {
	char name[256];		/* file path or UUID, for messages */
	size_t n;
	struct dt_step *steps;
};

/** dt_log_parse() - parse log text (not NUL-terminated) named @name. */
int dt_log_parse(struct dt_log *log, const char *name, const char *text,
		 size_t len, char *err, size_t errlen);

/** dt_log_read() - read and parse a log file (e.g. mockvf/log in sysfs). */
int dt_log_read(struct dt_log *log, const char *path, char *err, size_t errlen);

void dt_log_free(struct dt_log *log);

#define DT_MAX_FAILED 8

struct dt_failed {
	unsigned n;			/* failed steps seen (may exceed the array) */
	struct dt_step step[DT_MAX_FAILED];	/* the first ones */
};

/* Times in ns; DT_NONE when the phase did not happen or is not logged. */
#define DT_NONE UINT64_MAX

struct dt_source {
	int precopy;			/* the migration went through PRE_COPY */
	uint64_t precopy_entry_ns;	/* end of the entry into PRE_COPY */
	struct dt_step stop;		/* C: the step that stopped the device */
	uint64_t p2p_ns;		/* C's duration when C.to is a P2P state */
	struct dt_step stop_copy;	/* K: the step into STOP_COPY */
	uint64_t stop_copy_left_ns;	/* start of the step out of STOP_COPY */
	enum dt_state after_stop_copy;	/* its TO (STOP), DT_NSTATES if none */
	struct dt_failed failed;
};

struct dt_dest {
	struct dt_step resuming;	/* Q: the entry into RESUMING */
	struct dt_step load;		/* E: RESUMING->STOP */
	struct dt_step p2p;		/* ->RUNNING_P2P after E; start_ns DT_NONE if none */
	struct dt_step running;		/* R: the step into RUNNING */
	struct dt_failed failed;
};

/** dt_source_analyze() - apply the source rule to one device's log. */
int dt_source_analyze(const struct dt_log *log, struct dt_source *out,
		      char *err, size_t errlen);

/** dt_dest_analyze() - apply the destination rule to one device's log. */
int dt_dest_analyze(const struct dt_log *log, struct dt_dest *out,
		    char *err, size_t errlen);

struct dt_pair {
	char src_name[256], dst_name[256];
	int src_ok, dst_ok;		/* analysis succeeded */
	char src_err[512], dst_err[512];
	struct dt_source src;
	struct dt_dest dst;
};

struct dt_result {
	size_t npairs;
	struct dt_pair *pairs;		/* owned by the caller */
	int ok;				/* every log analysed, no failed steps */
	int have_downtime;
	uint64_t start_ns, end_ns, downtime_ns;
	char err[512];			/* the first problem when !ok */
};

/**
 * dt_compute() - analyse @n source/destination log pairs into @out->pairs
 * (an array of @n the caller provides) and the overall downtime.
 *
 * Return: 0 when the downtime was computed (out->ok may still be 0 because
 * of failed steps), or a negative errno with out->err set.
 */
int dt_compute(const struct dt_log *src, const struct dt_log *dst, size_t n,
	       struct dt_result *out);

/** dt_print() - per-device lines and "device downtime: N.N ms". */
void dt_print(FILE *f, const struct dt_result *r);

/** dt_write_json() - the same as a JSON document (schema "vfio-devtime"). */
int dt_write_json(const char *path, const struct dt_result *r,
		  char *err, size_t errlen);

#endif

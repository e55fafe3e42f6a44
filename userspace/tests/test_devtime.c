// SPDX-License-Identifier: GPL-2.0
/*
 * test_devtime - device-side downtime from synthetic mockvf logs: QEMU's
 * and the engine's sequences, start-up P2P bounces, pauses in precopy,
 * nopre and nop2p devices, two migrations in a row, failed steps,
 * incomplete migrations and malformed lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "devtime.h"

#define MS 1000000ull

/* Parse @text (lines "start_ms end_ms FROM TO ret [tag]", ms for brevity). */
static void log_ms(struct dt_log *log, const char *name, const char *text)
{
	char out[8192], err[256] = "";
	size_t o = 0;
	const char *p = text;

	/* Scale the two leading numbers of every line from ms to ns. */
	while (*p) {
		unsigned long long a, b;
		int used;

		if (sscanf(p, "%llu %llu%n", &a, &b, &used) == 2) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%llu %llu",
					      a * MS, b * MS);
			p += used;
		}
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (dt_log_parse(log, name, out, o, err, sizeof(err)))
		fail_msg("parse %s: %s", name, err);
}

static const char QEMU_SRC[] =
	"1000 1001 RUNNING RUNNING_P2P 0\n"	/* start-up bounce */
	"1001 1002 RUNNING_P2P RUNNING 0\n"
	"5000 5010 RUNNING PRE_COPY 0\n"
	"9000 9002 PRE_COPY PRE_COPY_P2P 0\n"
	"9002 9010 PRE_COPY_P2P STOP_COPY 0\n"
	"9050 9051 STOP_COPY STOP 0\n";

static const char QEMU_DST[] =
	"1000 1001 RUNNING RUNNING_P2P 0\n"
	"1001 1002 RUNNING_P2P STOP 0\n"
	"1002 1003 STOP RESUMING 0\n"
	"9040 9045 RESUMING STOP 0\n"
	"9045 9046 STOP RUNNING_P2P 0\n"
	"9046 9047 RUNNING_P2P RUNNING 0\n";

static void qemu_sequence(void **state)
{
	struct dt_log s, d;
	struct dt_source src;
	struct dt_dest dst;
	char err[256];

	(void)state;
	log_ms(&s, "src0", QEMU_SRC);
	log_ms(&d, "dst0", QEMU_DST);
	assert_int_equal(s.n, 6);
	assert_int_equal(dt_source_analyze(&s, &src, err, sizeof(err)), 0);
	assert_true(src.precopy);
	assert_int_equal(src.stop.line, 4);
	assert_int_equal(src.stop.start_ns, 9000 * MS);
	assert_int_equal(src.precopy_entry_ns, 5010 * MS);
	assert_int_equal(src.p2p_ns, 2 * MS);
	assert_int_equal(src.stop_copy.from, DT_PRE_COPY_P2P);
	assert_int_equal(src.stop_copy.end_ns - src.stop_copy.start_ns, 8 * MS);
	assert_int_equal(src.stop_copy_left_ns - src.stop_copy.end_ns, 40 * MS);
	assert_int_equal(src.after_stop_copy, DT_STOP);
	assert_int_equal(src.failed.n, 0);

	assert_int_equal(dt_dest_analyze(&d, &dst, err, sizeof(err)), 0);
	assert_int_equal(dst.resuming.line, 3);
	assert_int_equal(dst.load.start_ns, 9040 * MS);
	assert_int_equal(dst.load.end_ns, 9045 * MS);
	assert_int_equal(dst.p2p.end_ns, 9046 * MS);
	assert_int_equal(dst.running.end_ns, 9047 * MS);
	assert_int_equal(dst.running.from, DT_RUNNING_P2P);

	struct dt_pair pair;
	struct dt_result r = { .pairs = &pair };

	assert_int_equal(dt_compute(&s, &d, 1, &r), 0);
	assert_true(r.ok && r.have_downtime);
	assert_int_equal(r.downtime_ns, 47 * MS);
	dt_log_free(&s);
	dt_log_free(&d);
}

/* nopre under QEMU: the stop goes RUNNING->RUNNING_P2P->STOP->STOP_COPY. */
static void startup_bounce_not_counted(void **state)
{
	struct dt_log s;
	struct dt_source src;
	char err[256];

	(void)state;
	log_ms(&s, "nopre",
	       "100 101 RUNNING RUNNING_P2P 0\n"
	       "101 102 RUNNING_P2P RUNNING 0\n"
	       "700 703 RUNNING RUNNING_P2P 0\n"
	       "703 704 RUNNING_P2P STOP 0\n"
	       "704 720 STOP STOP_COPY 0\n"
	       "760 761 STOP_COPY STOP 0\n");
	assert_int_equal(dt_source_analyze(&s, &src, err, sizeof(err)), 0);
	assert_false(src.precopy);
	assert_int_equal(src.precopy_entry_ns, DT_NONE);
	assert_int_equal(src.stop.start_ns, 700 * MS);
	assert_int_equal(src.stop.line, 3);
	assert_int_equal(src.p2p_ns, 3 * MS);
	assert_int_equal(src.stop_copy.from, DT_STOP);
	dt_log_free(&s);
}

/* A pause during precopy (PRE_COPY->PRE_COPY_P2P->PRE_COPY) is no stop. */
static void pause_in_precopy_not_counted(void **state)
{
	struct dt_log s;
	struct dt_source src;
	char err[256];

	(void)state;
	log_ms(&s, "paused",
	       "10 11 RUNNING PRE_COPY 0\n"
	       "20 21 PRE_COPY PRE_COPY_P2P 0\n"
	       "30 31 PRE_COPY_P2P PRE_COPY 0\n"
	       "50 52 PRE_COPY PRE_COPY_P2P 0\n"
	       "52 60 PRE_COPY_P2P STOP_COPY 0\n");
	assert_int_equal(dt_source_analyze(&s, &src, err, sizeof(err)), 0);
	assert_int_equal(src.stop.start_ns, 50 * MS);
	assert_int_equal(src.precopy_entry_ns, 11 * MS);
	/* Never left STOP_COPY in this log. */
	assert_int_equal(src.stop_copy_left_ns, DT_NONE);
	assert_int_equal(src.after_stop_copy, DT_NSTATES);
	dt_log_free(&s);
}

/*
 * The engine, parallel: tiny (PRE_COPY), nopre (RUNNING_P2P) and nop2p
 * (PRE_COPY->STOP_COPY) devices; destinations resume through
 * RUNNING_P2P, except nop2p (STOP->RUNNING).
 */
static void engine_mixed_devices(void **state)
{
	struct dt_log s[3], d[3];
	struct dt_pair pairs[3];
	struct dt_result r = { .pairs = pairs };

	(void)state;
	log_ms(&s[0], "tiny-src",
	       "100 101 RUNNING PRE_COPY 0\n"
	       "300 302 PRE_COPY PRE_COPY_P2P 0\n"
	       "303 305 PRE_COPY_P2P STOP_COPY 0\n"
	       "400 401 STOP_COPY STOP 0\n");
	log_ms(&s[1], "nopre-src",
	       "299 303 RUNNING RUNNING_P2P 0\n"
	       "303 306 RUNNING_P2P STOP_COPY 0\n"
	       "400 401 STOP_COPY STOP 0\n");
	log_ms(&s[2], "nop2p-src",
	       "100 102 RUNNING PRE_COPY 0\n"
	       "304 309 PRE_COPY STOP_COPY 0\n"
	       "400 401 STOP_COPY STOP 0\n");
	static const char dst_p2p[] =
		"90 91 RUNNING RUNNING_P2P 0\n"
		"91 92 RUNNING_P2P STOP 0\n"
		"92 93 STOP RESUMING 0\n"
		"330 335 RESUMING STOP 0\n"
		"335 336 STOP RUNNING_P2P 0\n"
		"337 338 RUNNING_P2P RUNNING 0\n";

	log_ms(&d[0], "tiny-dst", dst_p2p);
	log_ms(&d[1], "nopre-dst",
	       "90 91 RUNNING RUNNING_P2P 0\n"
	       "91 92 RUNNING_P2P STOP 0\n"
	       "92 93 STOP RESUMING 0\n"
	       "331 334 RESUMING STOP 0\n"
	       "334 336 STOP RUNNING_P2P 0\n"
	       "337 342 RUNNING_P2P RUNNING 0\n");
	log_ms(&d[2], "nop2p-dst",
	       "90 91 RUNNING STOP 0\n"
	       "92 93 STOP RESUMING 0\n"
	       "332 336 RESUMING STOP 0\n"
	       "337 339 STOP RUNNING 0\n");
	assert_int_equal(dt_compute(s, d, 3, &r), 0);
	assert_true(r.ok);
	/* From the nopre source's stop at 299 to the nopre destination at 342. */
	assert_int_equal(r.start_ns, 299 * MS);
	assert_int_equal(r.end_ns, 342 * MS);
	assert_int_equal(r.downtime_ns, 43 * MS);
	assert_int_equal(pairs[2].src.p2p_ns, DT_NONE);
	assert_int_equal(pairs[2].src.stop.to, DT_STOP_COPY);
	assert_int_equal(pairs[2].dst.p2p.start_ns, DT_NONE);
	assert_int_equal(pairs[2].dst.running.from, DT_STOP);
	assert_int_equal(pairs[1].src.stop_copy.from, DT_RUNNING_P2P);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	dt_print(f, &r);
	fclose(f);
	assert_non_null(strstr(text, "source nopre-src: RUNNING->RUNNING_P2P at +0.000 ms (P2P 4.000 ms), no precopy"));
	assert_non_null(strstr(text, "destination nop2p-dst: RESUMING ended at +33.000 ms"));
	assert_non_null(strstr(text, "STOP->RUNNING 2.000 ms at +40.000 ms"));
	/* The total is the last line. */
	const char *last = "device downtime: 43.0 ms\n";

	assert_true(len >= strlen(last));
	assert_string_equal(text + len - strlen(last), last);
	free(text);
	for (int i = 0; i < 3; i++) {
		dt_log_free(&s[i]);
		dt_log_free(&d[i]);
	}
}

/* Migrate, come back to RUNNING, migrate again: the second one counts. */
static void two_migrations_last_counts(void **state)
{
	struct dt_log s, d;
	struct dt_pair pair;
	struct dt_result r = { .pairs = &pair };

	(void)state;
	log_ms(&s, "src",
	       "100 101 RUNNING PRE_COPY 0\n"
	       "200 201 PRE_COPY PRE_COPY_P2P 0\n"
	       "201 202 PRE_COPY_P2P STOP_COPY 0\n"
	       "230 231 STOP_COPY STOP 0\n"
	       "300 301 STOP RUNNING 0 reset\n"
	       "400 401 RUNNING RUNNING_P2P 0\n"	/* QEMU start-up again */
	       "401 402 RUNNING_P2P RUNNING 0\n"
	       "500 501 RUNNING PRE_COPY 0\n"
	       "800 805 PRE_COPY PRE_COPY_P2P 0\n"
	       "805 810 PRE_COPY_P2P STOP_COPY 0\n"
	       "900 901 STOP_COPY STOP 0\n");
	log_ms(&d, "dst",
	       "90 91 RUNNING RUNNING_P2P 0\n"
	       "91 92 RUNNING_P2P STOP 0\n"
	       "92 93 STOP RESUMING 0\n"
	       "210 212 RESUMING STOP 0\n"
	       "212 213 STOP RUNNING_P2P 0\n"
	       "213 214 RUNNING_P2P RUNNING 0\n"
	       "490 491 RUNNING RUNNING_P2P 0\n"
	       "491 492 RUNNING_P2P STOP 0\n"
	       "492 493 STOP RESUMING 0\n"
	       "840 842 RESUMING STOP 0\n"
	       "842 843 STOP RUNNING_P2P 0\n"
	       "843 850 RUNNING_P2P RUNNING 0\n");
	assert_int_equal(dt_compute(&s, &d, 1, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.start_ns, 800 * MS);
	assert_int_equal(r.end_ns, 850 * MS);
	assert_int_equal(pair.src.precopy_entry_ns, 501 * MS);
	assert_int_equal(pair.dst.resuming.line, 9);

	/* The first migration's destination with the second's source. */
	struct dt_log d1;

	log_ms(&d1, "dst-old",
	       "92 93 STOP RESUMING 0\n"
	       "210 212 RESUMING STOP 0\n"
	       "213 214 STOP RUNNING 0\n");
	assert_int_equal(dt_compute(&s, &d1, 1, &r), -EINVAL);
	assert_false(r.ok);
	assert_false(r.have_downtime);
	assert_non_null(strstr(r.err, "before the first source stopped"));
	dt_log_free(&s);
	dt_log_free(&d);
	dt_log_free(&d1);
}

static void expect_src_error(const char *text, const char *what)
{
	struct dt_log s;
	struct dt_source src;
	char err[256] = "";

	log_ms(&s, "s.log", text);
	assert_int_equal(dt_source_analyze(&s, &src, err, sizeof(err)), -ENOENT);
	if (!strstr(err, what))
		fail_msg("'%s' not in '%s'", what, err);
	assert_non_null(strstr(err, "s.log"));
	dt_log_free(&s);
}

static void expect_dst_error(const char *text, const char *what)
{
	struct dt_log d;
	struct dt_dest dst;
	char err[256] = "";

	log_ms(&d, "d.log", text);
	assert_int_equal(dt_dest_analyze(&d, &dst, err, sizeof(err)), -ENOENT);
	if (!strstr(err, what))
		fail_msg("'%s' not in '%s'", what, err);
	assert_non_null(strstr(err, "d.log"));
	dt_log_free(&d);
}

static void incomplete_migrations(void **state)
{
	(void)state;
	expect_src_error("1 2 RUNNING RUNNING_P2P 0\n2 3 RUNNING_P2P RUNNING 0\n",
			 "no complete migration");
	expect_src_error("", "no complete migration");
	/* A second migration cancelled in precopy is the last one. */
	expect_src_error("1 2 RUNNING PRE_COPY 0\n"
			 "3 4 PRE_COPY PRE_COPY_P2P 0\n"
			 "4 5 PRE_COPY_P2P STOP_COPY 0\n"
			 "6 7 STOP_COPY STOP 0\n"
			 "8 9 STOP RUNNING 0 reset\n"
			 "10 11 RUNNING PRE_COPY 0\n"
			 "12 13 PRE_COPY RUNNING 0\n",
			 "(PRE_COPY at line 6) never reached STOP_COPY");
	/* ... or a nopre one that failed going into STOP_COPY. */
	expect_src_error("1 2 RUNNING RUNNING_P2P 0\n"
			 "2 5 RUNNING_P2P STOP_COPY 0\n"
			 "6 7 STOP_COPY STOP 0\n"
			 "8 9 STOP RUNNING 0 reset\n"
			 "10 11 RUNNING RUNNING_P2P 0\n"
			 "11 12 RUNNING_P2P STOP_COPY -5 fault\n",
			 "failed at line 6: RUNNING_P2P->STOP_COPY ret -5");
	/* The log was cleared while the device was stopped. */
	expect_src_error("5 6 STOP STOP_COPY 0\n",
			 "not reached from RUNNING or PRE_COPY");

	expect_dst_error("1 2 RUNNING RUNNING_P2P 0\n", "no successful step into RESUMING");
	expect_dst_error("1 2 RUNNING STOP 0\n2 3 STOP RESUMING 0\n",
			 "still RESUMING at the end of the log (entered at line 2)");
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING STOP -22\n",
			 "line 2 is RESUMING->STOP ret -22");
	/* A reset out of RESUMING or after the load is not a resume. */
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING RUNNING 0 reset\n",
			 "RESUMING->RUNNING ret 0 reset");
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING STOP 0\n"
			 "6 7 STOP RUNNING 0 reset\n",
			 "never reached RUNNING after the load at line 2 (line 3: STOP->RUNNING ret 0 reset)");
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING STOP 0\n"
			 "6 7 STOP RUNNING_P2P 0\n",
			 "(end of the log)");
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING STOP 0\n"
			 "6 7 STOP RUNNING_P2P 0\n7 8 RUNNING_P2P RUNNING -5 fault\n",
			 "RUNNING_P2P->RUNNING ret -5 fault");
	expect_dst_error("2 3 STOP RESUMING 0\n4 5 RESUMING STOP 0\n"
			 "6 7 STOP RUNNING 0\n8 9 RUNNING STOP 0\n"
			 "9 10 STOP RESUMING -5 fault\n",
			 "failed at line 5: STOP->RESUMING ret -5");
}

/* A failed step after the data was out: downtime known, result not ok. */
static void failed_steps_reported(void **state)
{
	struct dt_log s, d;
	struct dt_pair pair;
	struct dt_result r = { .pairs = &pair };

	(void)state;
	log_ms(&s, "src",
	       "1 2 RUNNING RUNNING_P2P -5 fault\n"	/* before: ignored */
	       "3 4 ERROR RUNNING 0 reset\n"
	       "10 11 RUNNING PRE_COPY 0\n"
	       "20 21 PRE_COPY PRE_COPY_P2P 0\n"
	       "21 25 PRE_COPY_P2P STOP_COPY 0\n"
	       "40 41 STOP_COPY STOP -5 fault\n"
	       "41 42 ERROR RUNNING 0 reset\n");
	log_ms(&d, "dst", QEMU_DST);
	/* Make the destination run after this source stopped. */
	dt_log_free(&d);
	log_ms(&d, "dst",
	       "2 3 STOP RESUMING 0\n30 31 RESUMING STOP 0\n"
	       "31 32 STOP RUNNING_P2P 0\n32 33 RUNNING_P2P RUNNING 0\n");
	assert_int_equal(dt_compute(&s, &d, 1, &r), 0);
	assert_true(r.have_downtime);
	assert_int_equal(r.downtime_ns, 13 * MS);
	assert_false(r.ok);
	assert_int_equal(pair.src.failed.n, 1);
	assert_int_equal(pair.src.failed.step[0].line, 6);
	assert_int_equal(pair.src.after_stop_copy, DT_ERROR);
	assert_string_equal(r.err, "1 failed step, the first: src line 6: STOP_COPY->STOP ret -5");

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	dt_print(f, &r);
	fclose(f);
	assert_non_null(strstr(text, "failed step: src line 6: STOP_COPY->STOP ret -5 fault\n"));
	assert_non_null(strstr(text, "until ERROR"));
	free(text);
	dt_log_free(&s);
	dt_log_free(&d);
}

static void expect_parse_error(const char *text, const char *what)
{
	struct dt_log log;
	char err[256] = "";

	assert_int_equal(dt_log_parse(&log, "bad.log", text, strlen(text),
				      err, sizeof(err)), -EINVAL);
	if (!strstr(err, what))
		fail_msg("'%s' not in '%s'", what, err);
	assert_null(log.steps);
}

static void malformed_lines(void **state)
{
	(void)state;
	expect_parse_error("1 2 RUNNING STOP 0\n\nabc 2 RUNNING STOP 0\n",
			   "bad.log:3: bad timestamp");
	expect_parse_error("1 2 RUNNING SLEEPING 0\n", "bad.log:1: unknown state 'SLEEPING'");
	expect_parse_error("1 2 RUNNING STOP\n", "bad.log:1: expected '<start_ns>");
	expect_parse_error("1 2 RUNNING STOP x\n", "bad.log:1: bad ret 'x'");
	expect_parse_error("1 2 RUNNING STOP 5\n", "bad.log:1: bad ret '5'");
	expect_parse_error("5 2 RUNNING STOP 0\n", "bad.log:1: end_ns 2 is before start_ns 5");
	expect_parse_error("1 2 RUNNING STOP 0 a b c d\n", "more than 6 fields");
	expect_parse_error("-1 2 RUNNING STOP 0\n", "bad timestamp");
	expect_parse_error("99999999999999999999 2 RUNNING STOP 0\n", "bad timestamp");
	expect_parse_error("1 2 RUNNING STOP 0 averyveryverylongtag\n", "too long");
	char big[400];

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_parse_error(big, "bad.log:1: line longer than");
	const char nul[] = "1 2 RUNNING\0 STOP 0\n";
	struct dt_log log;
	char err[256];

	assert_int_equal(dt_log_parse(&log, "nul.log", nul, sizeof(nul) - 1,
				      err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nul.log:1: NUL byte"));

	/* Blank lines, CRLF and a missing final newline are fine. */
	const char ok[] = "\n1 2 RUNNING STOP 0\r\n  \n3 4 STOP RESUMING 0 delay";

	assert_int_equal(dt_log_parse(&log, "ok.log", ok, strlen(ok), err,
				      sizeof(err)), 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.steps[1].line, 4);
	assert_string_equal(log.steps[1].tag, "delay");
	dt_log_free(&log);
}

static void files_and_json(void **state)
{
	char dir[] = "/tmp/test_devtime.XXXXXX", sp[64], dp[64], jp[64];
	char err[256] = "";
	struct dt_log s, d;
	struct dt_pair pair;
	struct dt_result r = { .pairs = &pair };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sp, sizeof(sp), "%s/src", dir);
	snprintf(dp, sizeof(dp), "%s/dst", dir);
	snprintf(jp, sizeof(jp), "%s/out.json", dir);
	/* The file path is the name in messages. */
	FILE *f = fopen(sp, "w");

	fputs("1 2 RUNNING PRE_COPY 0\n3 4 PRE_COPY PRE_COPY_P2P 0\n"
	      "4 5 PRE_COPY_P2P STOP_COPY 0\n6 7 STOP_COPY STOP 0\n", f);
	fclose(f);
	f = fopen(dp, "w");
	fputs("0 1 STOP RESUMING 0\n5 6 RESUMING STOP 0\n"
	      "6 7 STOP RUNNING_P2P 0\n7 3000007 RUNNING_P2P RUNNING 0\n", f);
	fclose(f);
	assert_int_equal(dt_log_read(&s, sp, err, sizeof(err)), 0);
	assert_string_equal(s.name, sp);
	assert_int_equal(dt_log_read(&d, dp, err, sizeof(err)), 0);
	assert_int_equal(dt_compute(&s, &d, 1, &r), 0);
	assert_int_equal(r.downtime_ns, 3000004);
	assert_int_equal(dt_write_json(jp, &r, err, sizeof(err)), 0);

	json_t *doc = json_load_file(jp, 0, NULL);

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "schema")),
			    "vfio-devtime");
	assert_true(json_is_true(json_object_get(doc, "ok")));
	assert_int_equal(json_integer_value(json_object_get(doc, "downtime_ns")),
			 3000004);
	json_t *dev = json_array_get(json_object_get(doc, "devices"), 0);
	json_t *js = json_object_get(dev, "source");
	json_t *jd = json_object_get(dev, "destination");

	assert_string_equal(json_string_value(json_object_get(js, "stop_arc")),
			    "PRE_COPY->PRE_COPY_P2P");
	assert_int_equal(json_integer_value(json_object_get(js, "precopy_ns")), 1);
	assert_string_equal(json_string_value(json_object_get(js, "after_stop_copy")),
			    "STOP");
	assert_int_equal(json_integer_value(json_object_get(jd, "running_end_ns")),
			 3000007);
	assert_int_equal(json_array_size(json_object_get(jd, "failed_steps")), 0);
	json_decref(doc);

	/* A missing file names the path and the errno. */
	struct dt_log m;

	assert_int_equal(dt_log_read(&m, "/nonexistent/mockvf/log", err,
				     sizeof(err)), -ENOENT);
	assert_string_equal(err, "open /nonexistent/mockvf/log: No such file or directory (errno 2)");

	/* An error result is still written, with ok false and the reason. */
	struct dt_result bad = { .pairs = &pair };

	assert_int_equal(dt_compute(&d, &s, 1, &bad), -ENOENT);
	assert_int_equal(dt_write_json(jp, &bad, err, sizeof(err)), 0);
	doc = json_load_file(jp, 0, NULL);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_true(json_is_null(json_object_get(doc, "downtime_ns")));
	assert_non_null(strstr(json_string_value(json_object_get(doc, "error")),
			       "no complete migration"));
	json_decref(doc);
	assert_int_equal(dt_write_json("/nonexistent/out.json", &r, err, sizeof(err)) < 0, 1);
	assert_non_null(strstr(err, "/nonexistent/out.json"));

	dt_log_free(&s);
	dt_log_free(&d);
	unlink(sp);
	unlink(dp);
	unlink(jp);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_sequence),
		cmocka_unit_test(startup_bounce_not_counted),
		cmocka_unit_test(pause_in_precopy_not_counted),
		cmocka_unit_test(engine_mixed_devices),
		cmocka_unit_test(two_migrations_last_counts),
		cmocka_unit_test(incomplete_migrations),
		cmocka_unit_test(failed_steps_reported),
		cmocka_unit_test(malformed_lines),
		cmocka_unit_test(files_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

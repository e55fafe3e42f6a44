// SPDX-License-Identifier: GPL-2.0
/* Unit tests for reading reports and drawing timelines (userspace/plot). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeline.h"
#include "vfiomig.h"

/* A local migration of one device, as the engine writes it. */
static const char good[] =
	"{\"schema\":\"vfiomig-report\",\"version\":1,\"ok\":true,"
	"\"downtime_ns\":300000000,\"downtime_method\":\"local\","
	"\"source\":{\"role\":\"source\",\"transitions\":\"parallel\","
	"\"switchover_ack\":\"per-device\",\"t_start_ns\":1000000000,"
	"\"t_first_leave_ns\":1500000000,"
	"\"devices\":[{\"index\":0,\"name\":\"dev-a\"}],"
	"\"transitions_log\":["
	"{\"dev\":0,\"phase\":\"precopy-enter\",\"from\":\"RUNNING\",\"to\":\"PRE_COPY\",\"start_ns\":1000000000,\"end_ns\":1010000000,\"ret\":0},"
	"{\"dev\":0,\"phase\":\"p2p\",\"from\":\"PRE_COPY\",\"to\":\"PRE_COPY_P2P\",\"start_ns\":1500000000,\"end_ns\":1550000000,\"ret\":0},"
	"{\"dev\":0,\"phase\":\"stop-copy\",\"from\":\"PRE_COPY_P2P\",\"to\":\"STOP_COPY\",\"start_ns\":1550000000,\"end_ns\":1600000000,\"ret\":-5}],"
	"\"events\":[{\"ts_ns\":1200000000,\"type\":\"reinit\",\"dev\":0,\"value\":1,\"detail\":\"x<y\"},"
	"{\"ts_ns\":1400000000,\"type\":\"switchover\",\"dev\":-1,\"value\":0,\"detail\":\"\"}]},"
	"\"destination\":{\"role\":\"destination\",\"t_start_ns\":1000000000,"
	"\"devices\":[{\"index\":0,\"name\":\"dev-b\"}],"
	"\"transitions_log\":[{\"dev\":0,\"phase\":\"resuming\",\"from\":\"RUNNING\",\"to\":\"STOP\",\"start_ns\":1000000000,\"end_ns\":1001000000,\"ret\":0}],"
	"\"events\":[]}}";

static char path[] = "/tmp/timeline-test.XXXXXX";

static const char *write_tmp(const char *text)
{
	int fd;

	strcpy(path, "/tmp/timeline-test.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal((ssize_t)strlen(text), write(fd, text, strlen(text)));
	close(fd);
	return path;
}

static void loads_lanes_states_and_events(void **state)
{
	struct timeline *tl = calloc(1, sizeof(*tl));
	char err[256] = "";

	(void)state;
	assert_int_equal(0, timeline_load(write_tmp(good), tl, err, sizeof(err)));
	unlink(path);
	assert_int_equal(2, tl->nlanes);
	assert_int_equal('S', tl->lane[0].side);
	assert_int_equal('D', tl->lane[1].side);
	assert_string_equal("dev-a", tl->lane[0].name);
	/* RUNNING, PRE_COPY, PRE_COPY_P2P; the failed STOP_COPY arc is not a state. */
	assert_int_equal(3, tl->lane[0].nseg);
	assert_int_equal(VFIOMIG_PRE_COPY_P2P, tl->lane[0].seg[2].state);
	assert_int_equal(1550000000ull, tl->lane[0].seg[2].t);
	assert_int_equal(2, tl->nevents);
	assert_int_equal(0, tl->event[0].lane);
	assert_int_equal(-1, tl->event[1].lane);
	assert_int_equal(1500000000ull, tl->down_start);
	assert_int_equal(1800000000ull, tl->down_end);
	assert_int_equal(1000000000ull, tl->t0);
	assert_int_equal(1800000000ull, tl->t1);
	free(tl);
}

static void svg_has_lanes_band_marks_and_escapes(void **state)
{
	char err[256], svg[] = "/tmp/timeline-svg.XXXXXX", *buf;
	size_t len = 0;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(svg);
	close(fd);
	assert_int_equal(0, timeline_plot(write_tmp(good), svg, err, sizeof(err)));
	unlink(path);
	f = fopen(svg, "r");
	buf = calloc(1, 1 << 20);
	len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	unlink(svg);
	assert_true(len > 0);
	assert_non_null(strstr(buf, "<svg"));
	assert_non_null(strstr(buf, "</svg>"));
	assert_non_null(strstr(buf, ">dev-a<"));
	assert_non_null(strstr(buf, ">dev-b<"));
	assert_non_null(strstr(buf, "downtime 300.0 ms"));
	assert_non_null(strstr(buf, "class=\"reinit\""));
	assert_non_null(strstr(buf, "class=\"switchover\""));
	assert_non_null(strstr(buf, "x&lt;y"));	/* detail escaped */
	assert_null(strstr(buf, "x<y"));
	free(buf);
}

static void expect_error(const char *text, const char *needle)
{
	struct timeline *tl = calloc(1, sizeof(*tl));
	char err[256] = "";

	assert_int_equal(-EINVAL, timeline_load(write_tmp(text), tl, err,
						sizeof(err)));
	unlink(path);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	free(tl);
}

static void rejects_bad_and_foreign_json(void **state)
{
	(void)state;
	expect_error("{not json", "not JSON");
	expect_error("", "not JSON");
	expect_error("[1,2,3]", "not a vfio-migrate report");
	expect_error("{\"name\":\"something else\"}", "not a vfio-migrate report");
	expect_error("{\"schema\":\"vfiomig-report\",\"version\":99}",
		     "version 99 is not supported");
	expect_error("{\"schema\":\"vfiomig-report\",\"version\":1}",
		     "neither a source nor a destination");
	expect_error("{\"schema\":\"vfiomig-report\",\"version\":1,"
		     "\"source\":{\"devices\":7}}", "\"devices\" is not an array");
	expect_error("{\"schema\":\"vfiomig-report\",\"version\":1,"
		     "\"source\":{\"devices\":[{\"name\":\"a\"}],"
		     "\"transitions_log\":[{\"dev\":5,\"to\":\"STOP\","
		     "\"start_ns\":1,\"end_ns\":2,\"ret\":0}]}}",
		     "names device 5");
	expect_error("{\"schema\":\"vfiomig-report\",\"version\":1,"
		     "\"source\":{\"devices\":[{\"name\":\"a\"}],"
		     "\"transitions_log\":[{\"dev\":0,\"to\":\"FLYING\","
		     "\"start_ns\":1,\"end_ns\":2,\"ret\":0}]}}",
		     "unknown state 'FLYING'");
}

static void missing_file(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(-EINVAL, timeline_plot("/nonexistent/r.json", "-", err,
						sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/r.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_lanes_states_and_events),
		cmocka_unit_test(svg_has_lanes_band_marks_and_escapes),
		cmocka_unit_test(rejects_bad_and_foreign_json),
		cmocka_unit_test(missing_file),
	};

	return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}

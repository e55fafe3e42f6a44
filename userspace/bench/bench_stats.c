// SPDX-License-Identifier: GPL-2.0
/* bench_stats.c - median, min and max of repeated measurements. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bench_stat bench_stat_of(const double *v, int n)
{
	struct bench_stat s = { 0 };
	double sorted[BENCH_MAX_REPS];

	if (n <= 0)
		return s;
	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	s.n = n;
	s.min = sorted[0];
	s.max = sorted[n - 1];
	s.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	return s;
}

void bench_print_row(const char *label, struct bench_stat s, int decimals)
{
	printf("%-31s| %.*f [%.*f-%.*f]\n", label, decimals, s.median, decimals,
	       s.min, decimals, s.max);
}

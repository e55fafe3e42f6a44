// SPDX-License-Identifier: GPL-2.0
/*
 * timeline_svg.c - draw a struct timeline as a self-contained SVG: one lane
 * per device coloured by state, a time axis in ms, the downtime band, event
 * marks with hover titles, and a legend.  No scripts, no external fonts, so
 * it reads the same in any browser or converter.
 */
#define _GNU_SOURCE
#include "timeline.h"
#include "vfiomig.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define W 1200
#define LABEL_W 250
#define RIGHT_PAD 30
#define TOP 60
#define LANE_H 22
#define LANE_GAP 6
#define SIDE_GAP 26
#define PLOT_W (W - LABEL_W - RIGHT_PAD)

static const struct {
	int state;
	const char *colour;
} palette[] = {
	{ VFIOMIG_RUNNING, "#43a047" },
	{ VFIOMIG_PRE_COPY, "#90caf9" },
	{ VFIOMIG_PRE_COPY_P2P, "#1e88e5" },
	{ VFIOMIG_RUNNING_P2P, "#ffb74d" },
	{ VFIOMIG_STOP_COPY, "#e53935" },
	{ VFIOMIG_STOP, "#9e9e9e" },
	{ VFIOMIG_RESUMING, "#8e24aa" },
	{ VFIOMIG_ERROR, "#212121" },
};

static const char *colour_of(int state)
{
	for (size_t i = 0; i < sizeof(palette) / sizeof(palette[0]); i++)
		if (palette[i].state == state)
			return palette[i].colour;
	return "#eeeeee";
}

static double x_of(const struct timeline *tl, uint64_t t)
{
	if (t < tl->t0)
		t = tl->t0;
	return LABEL_W + (double)(t - tl->t0) * PLOT_W / (double)(tl->t1 - tl->t0);
}

static int lane_y(const struct timeline *tl, int lane)
{
	int y = TOP, i;

	for (i = 0; i < lane; i++) {
		y += LANE_H + LANE_GAP;
		if (tl->lane[i].side != tl->lane[i + 1].side)
			y += SIDE_GAP;
	}
	return y;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/* A "nice" tick step (1, 2 or 5 x 10^k ms) for about 10 ticks. */
static double tick_step_ms(double span_ms)
{
	double raw = span_ms / 10, mag = pow(10, floor(log10(raw)));

	if (raw / mag >= 5)
		return 5 * mag;
	if (raw / mag >= 2)
		return 2 * mag;
	return mag;
}

static void draw_lanes(const struct timeline *tl, FILE *f)
{
	for (int i = 0; i < tl->nlanes; i++) {
		const struct tl_lane *l = &tl->lane[i];
		int y = lane_y(tl, i);

		if (i == 0 || l->side != tl->lane[i - 1].side)
			fprintf(f, "<text x=\"10\" y=\"%d\" class=\"side\">%s</text>\n",
				y - 8, l->side == 'S' ? "Source" : "Destination");
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"lane\" text-anchor=\"end\">",
			LABEL_W - 8, y + LANE_H - 7);
		xml_text(f, l->name);
		fputs("</text>\n", f);
		for (int s = 0; s < l->nseg; s++) {
			uint64_t end = s + 1 < l->nseg ? l->seg[s + 1].t : tl->t1;
			double x0 = x_of(tl, l->seg[s].t), x1 = x_of(tl, end);

			if (x1 - x0 < 0.05)
				continue;
			fprintf(f, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
				"height=\"%d\" fill=\"%s\"><title>%s from %.3f ms "
				"for %.3f ms</title></rect>\n",
				x0, y, x1 - x0, LANE_H, colour_of(l->seg[s].state),
				vfiomig_state_name(l->seg[s].state),
				(l->seg[s].t - tl->t0) / 1e6,
				(end - l->seg[s].t) / 1e6);
		}
	}
}

static void draw_axis(const struct timeline *tl, FILE *f, int y)
{
	double span = (tl->t1 - tl->t0) / 1e6, step = tick_step_ms(span);

	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
		LABEL_W, y, W - RIGHT_PAD, y);
	for (double ms = 0; ms <= span + 1e-9; ms += step) {
		double x = LABEL_W + ms * PLOT_W / span;

		fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
			"class=\"grid\"/>\n", x, TOP - 4, x, y);
		fprintf(f, "<text x=\"%.2f\" y=\"%d\" class=\"tick\" "
			"text-anchor=\"middle\">%g</text>\n", x, y + 16, ms);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">"
		"time (ms)</text>\n", W - RIGHT_PAD, y + 32);
}

static bool has(const char *type, const char *word)
{
	return strstr(type, word) != NULL;
}

static void draw_events(const struct timeline *tl, FILE *f, int bottom)
{
	for (int i = 0; i < tl->nevents; i++) {
		const struct tl_event *e = &tl->event[i];
		double x = x_of(tl, e->t);
		int y = e->lane >= 0 ? lane_y(tl, e->lane) + LANE_H / 2 : TOP - 12;

		if (has(e->type, "switchover")) {
			fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
				"class=\"switchover\">", x, TOP - 20, x, bottom);
		} else if (has(e->type, "reinit")) {
			fprintf(f, "<path d=\"M%.2f %d l6 6 l-6 6 l-6 -6 z\" "
				"class=\"reinit\">", x, y - 6);
		} else if (has(e->type, "request")) {
			fprintf(f, "<path d=\"M%.2f %d l6 10 l-12 0 z\" class=\"ackreq\">",
				x, y - 5);
		} else if (has(e->type, "ack")) {
			fprintf(f, "<circle cx=\"%.2f\" cy=\"%d\" r=\"5\" class=\"ack\">",
				x, y);
		} else {
			fprintf(f, "<rect x=\"%.2f\" y=\"%d\" width=\"3\" height=\"12\" "
				"class=\"event\">", x - 1.5, y - 6);
		}
		fputs("<title>", f);
		xml_text(f, e->type);
		if (e->detail[0]) {
			fputs(": ", f);
			xml_text(f, e->detail);
		}
		fprintf(f, " at %.3f ms</title>", (e->t - tl->t0) / 1e6);
		fputs(has(e->type, "switchover") ? "</line>\n" :
		      has(e->type, "reinit") || has(e->type, "request") ?
		      "</path>\n" : has(e->type, "ack") ? "</circle>\n" :
		      "</rect>\n", f);
	}
}

static void draw_legend(FILE *f, int y)
{
	static const char *const marks[][2] = {
		{ "ackreq", "ack request" }, { "ack", "ack" },
		{ "reinit", "REINIT" }, { "switchover", "switchover decision" },
	};
	int x = LABEL_W;

	for (size_t i = 0; i < sizeof(palette) / sizeof(palette[0]); i++) {
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" "
			"fill=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"tick\">%s</text>\n",
			x, y, palette[i].colour, x + 18, y + 12,
			vfiomig_state_name(palette[i].state));
		x += 18 + 8 * (int)strlen(vfiomig_state_name(palette[i].state)) + 14;
	}
	x = LABEL_W;
	y += 24;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (!strcmp(marks[i][0], "switchover"))
			fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				"class=\"switchover\"/>", x + 7, y, x + 7, y + 14);
		else if (!strcmp(marks[i][0], "ack"))
			fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" class=\"ack\"/>",
				x + 7, y + 7);
		else if (!strcmp(marks[i][0], "reinit"))
			fprintf(f, "<path d=\"M%d %d l6 6 l-6 6 l-6 -6 z\" class=\"reinit\"/>",
				x + 7, y + 1);
		else
			fprintf(f, "<path d=\"M%d %d l6 10 l-12 0 z\" class=\"ackreq\"/>",
				x + 7, y + 2);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%s</text>\n",
			x + 18, y + 12, marks[i][1]);
		x += 18 + 8 * (int)strlen(marks[i][1]) + 20;
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" class=\"down\"/>"
		"<text x=\"%d\" y=\"%d\" class=\"tick\">downtime</text>\n",
		x, y, x + 18, y + 12);
}

int timeline_write_svg(const struct timeline *tl, FILE *f)
{
	int bottom = tl->nlanes ? lane_y(tl, tl->nlanes - 1) + LANE_H : TOP;
	int axis_y = bottom + 10, h = axis_y + 110;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		"<style>\n"
		".title{font-size:16px;font-weight:bold}\n"
		".side{font-size:13px;font-weight:bold;fill:#333}\n"
		".lane{font-size:11px;fill:#222;font-family:monospace}\n"
		".tick{font-size:11px;fill:#444}\n"
		".axis{stroke:#333;stroke-width:1}\n"
		".grid{stroke:#ddd;stroke-width:1}\n"
		".down{fill:#fff59d;stroke:none}\n"
		".downedge{stroke:#f9a825;stroke-width:2}\n"
		".switchover{stroke:#000;stroke-width:1.5;stroke-dasharray:5 3}\n"
		".reinit{fill:#ff6f00;stroke:#000;stroke-width:0.8}\n"
		".ackreq{fill:#fff;stroke:#000;stroke-width:1}\n"
		".ack{fill:#000}\n"
		".event{fill:#555}\n"
		"</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
		W, h, W, h);
	fputs("<text x=\"10\" y=\"24\" class=\"title\">", f);
	xml_text(f, tl->title);
	fputs("</text>\n", f);

	draw_axis(tl, f, axis_y);
	/* The band goes behind the lanes so state colours stay true. */
	if (tl->down_start && tl->down_end > tl->down_start) {
		double x0 = x_of(tl, tl->down_start), x1 = x_of(tl, tl->down_end);

		fprintf(f, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
			"class=\"down\"><title>downtime %.3f ms</title></rect>\n",
			x0, TOP - 20, x1 - x0, bottom - TOP + 28,
			(tl->down_end - tl->down_start) / 1e6);
		fprintf(f, "<text x=\"%.2f\" y=\"%d\" class=\"tick\">downtime "
			"%.1f ms</text>\n", x0 + 3, TOP - 8,
			(tl->down_end - tl->down_start) / 1e6);
		draw_lanes(tl, f);
		for (int k = 0; k < 2; k++)
			fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" "
				"y2=\"%d\" class=\"downedge\"/>\n", k ? x1 : x0,
				TOP - 20, k ? x1 : x0, bottom + 8);
	} else {
		draw_lanes(tl, f);
	}
	draw_events(tl, f, bottom);
	draw_legend(f, axis_y + 44);
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}

int timeline_plot(const char *json_path, const char *svg_path, char *err,
		  size_t errlen)
{
	struct timeline *tl = calloc(1, sizeof(*tl));
	FILE *f;
	int ret;

	if (!tl) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = timeline_load(json_path, tl, err, errlen);
	if (ret)
		goto out;
	f = strcmp(svg_path, "-") ? fopen(svg_path, "w") : stdout;
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", svg_path, strerror(errno));
		goto out;
	}
	ret = timeline_write_svg(tl, f);
	if (f != stdout && fclose(f) && !ret)
		ret = -errno;
	if (ret)
		snprintf(err, errlen, "%s: write failed: %s", svg_path,
			 strerror(-ret));
out:
	free(tl);
	return ret;
}

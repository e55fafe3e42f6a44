// SPDX-License-Identifier: GPL-2.0
/*
 * dest_queue.c - what the receivers queue for the loaders, bounded by
 * --max-queued: a receiver that would exceed the cap stops reading its
 * channel, so flow control slows the source instead of this process
 * growing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "dest_internal.h"

/* ---- item buffers ---------------------------------------------------- */


struct item *dst_item_alloc(struct dst *s, size_t charge)
{
	struct item *it = NULL;

	if (charge == FULL_ITEM) {
		pthread_mutex_lock(&s->ss.lock);
		it = s->spare;
		if (it) {
			s->spare = it->next;
			s->nspare--;
		}
		pthread_mutex_unlock(&s->ss.lock);
	}
	if (!it)
		it = malloc(charge);
	if (it) {
		it->data = it->inline_data;
		it->msg = NULL;
	}
	return it;
}

struct item *dst_item_adopt(struct dst *s, size_t charge, uint8_t *data,
			    struct vm_msg *msg)
{
	struct item *it = calloc(1, sizeof(*it));

	(void)s;
	if (!it)
		return NULL;
	it->data = data;
	it->msg = msg;
	it->charge = charge;
	return it;
}

void dst_item_free(struct dst *s, struct item *it)
{
	if (it->msg) {
		vm_msg_free(it->msg);
		free(it);
		return;
	}
	if (it->kind == ITEM_DATA && it->charge == FULL_ITEM) {
		pthread_mutex_lock(&s->ss.lock);
		if (s->nspare < SPARE_MAX) {
			it->next = s->spare;
			s->spare = it;
			s->nspare++;
			it = NULL;
		}
		pthread_mutex_unlock(&s->ss.lock);
	}
	free(it);
}

void dst_free_spares(struct dst *s)
{
	while (s->spare) {
		struct item *nx = s->spare->next;

		free(s->spare);
		s->spare = nx;
	}
	s->nspare = 0;
}

/* ---- bounded queue --------------------------------------------------- */

/* Wait until @bytes fit under the cap; the caller then owns them. */
int dst_reserve(struct dst *s, size_t bytes)
{
	pthread_mutex_lock(&s->ss.lock);
	while (s->queued + bytes > s->o.max_queued && !vm_aborted(&s->ss))
		pthread_cond_wait(&s->ss.cond, &s->ss.lock);
	if (vm_aborted(&s->ss)) {
		pthread_mutex_unlock(&s->ss.lock);
		return -ECANCELED;
	}
	s->queued += bytes;
	if (s->queued > s->peak)
		s->peak = s->queued;
	pthread_mutex_unlock(&s->ss.lock);
	return 0;
}

void dst_release(struct dst *s, size_t bytes)
{
	pthread_mutex_lock(&s->ss.lock);
	s->queued -= bytes;
	pthread_cond_broadcast(&s->ss.cond);
	pthread_mutex_unlock(&s->ss.lock);
}

void dst_enqueue(struct dst *s, unsigned i, struct item *it)
{
	struct dst_dev *d = &s->d[i];

	pthread_mutex_lock(&s->ss.lock);
	it->next = NULL;
	if (d->tail)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	/*
	 * Only this device's loader waits for it.  A broadcast on the
	 * session's condition woke all loaders for every record, and 16
	 * loaders then queued on the lock in turn: 10-20 ms of wake-ups in
	 * the downtime of a 16-device switchover on the rig.
	 */
	pthread_cond_signal(&s->ss.dev_cond[i]);
	pthread_mutex_unlock(&s->ss.lock);
}

struct item *dst_dequeue(struct dst *s, unsigned i)
{
	struct dst_dev *d = &s->d[i];
	struct item *it;

	pthread_mutex_lock(&s->ss.lock);
	while (!d->head && !vm_aborted(&s->ss))
		pthread_cond_wait(&s->ss.dev_cond[i], &s->ss.lock);
	it = vm_aborted(&s->ss) ? NULL : d->head;
	if (it) {
		d->head = it->next;
		if (!d->head)
			d->tail = NULL;
	}
	pthread_mutex_unlock(&s->ss.lock);
	return it;
}


/*
 * A queued control record (ack request, device end) costs memory like
 * data does: a source that floods 28-byte INIT_DATA_SENT records must hit
 * the same --max-queued cap and be slowed the same way.
 */
struct item *dst_control_item(struct dst *s)
{
	struct item *it;

	if (dst_reserve(s, sizeof(*it)))
		return NULL;
	it = calloc(1, sizeof(*it));
	if (!it) {
		dst_release(s, sizeof(*it));
		vm_fail(&s->ss, -ENOMEM, "out of memory");
		return NULL;
	}
	it->charge = sizeof(*it);
	return it;
}


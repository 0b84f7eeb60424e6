/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "companion-phone-store.h"

G_BEGIN_DECLS

/* Live events on the simulated phone (docs/phone-simulator.md): each event
 * ({"type": NAME, …fields}) becomes the changes it implies, applied to the
 * store in one companion_phone_store_apply call, so an event happens whole
 * or not at all. */

#define COMPANION_PHONE_EVENTS_ERROR (companion_phone_events_error_quark ())

typedef enum
{
  COMPANION_PHONE_EVENTS_ERROR_UNKNOWN_TYPE,  /* no such event */
  COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, /* a field missing, unknown, of the wrong type or value */
  COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND,     /* the chat, message or contact named does not exist */
  COMPANION_PHONE_EVENTS_ERROR_CONFLICT,      /* an explicit id already used for something else */
} CompanionPhoneEventsError;

#define COMPANION_TYPE_PHONE_EVENTS (companion_phone_events_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPhoneEvents, companion_phone_events,
                      COMPANION, PHONE_EVENTS, GObject)

GQuark                companion_phone_events_error_quark (void);

/* The event names, NULL-terminated: "message-in", "message-out", "edit",
 * "delete", "react", "read", "delivered", "status", "call", "chat",
 * "media", "chat-new". */
const char * const   *companion_phone_events_get_types  (void);

/* Events on STORE. Looking records up, it reads STORE's database through a
 * read-only connection of its own. */
CompanionPhoneEvents *companion_phone_events_new        (CompanionPhoneStore  *store,
                                                         GError              **error);
CompanionPhoneStore  *companion_phone_events_get_store  (CompanionPhoneEvents *self);

/* Applies the event TYPE with FIELDS (its "type" member, if any, is
 * ignored; any other unknown member is an error). Returns the store's last
 * sequence number after it: the event's last change, or the current one when
 * the event changes nothing (a repeated message with the same id and
 * content, a read of a chat already read, …). 0 on error, and then nothing
 * was written; the error names the bad field: "edit: “message”: no message
 * “m-99”". */
guint64               companion_phone_events_apply      (CompanionPhoneEvents *self,
                                                         const char           *type,
                                                         JsonObject           *fields,
                                                         GError              **error);

/* For tests: "now" in ms since the epoch; 0 (the default) means the real
 * clock. Times of new messages are never earlier than their chat's newest
 * message (one ms later when the clock says otherwise). */
void                  companion_phone_events_set_clock  (CompanionPhoneEvents *self,
                                                         gint64                now_ms);

/* Random live traffic: at RATE events a second (0 < RATE ≤ 5000), a
 * realistic mix of mostly incoming and outgoing messages with some
 * reactions, edits, reads, receipts, deletions, calls, media and chat
 * changes, drawn from a GRand seeded with SEED (the same seed on the same
 * data gives the same events). One timer, ticking every 10 ms at high rates,
 * applies the events that are due. Signal "applied" (guint64 last_seq,
 * guint n_events) after each tick that applied events. */
#define COMPANION_PHONE_EVENT_SOURCE_MAX_RATE 5000.0

#define COMPANION_TYPE_PHONE_EVENT_SOURCE (companion_phone_event_source_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPhoneEventSource, companion_phone_event_source,
                      COMPANION, PHONE_EVENT_SOURCE, GObject)

/* RATE is checked by companion_phone_event_source_start. */
CompanionPhoneEventSource *companion_phone_event_source_new       (CompanionPhoneEvents      *events,
                                                                  double                     rate,
                                                                  guint32                    seed);
/* Reads the chats and recent messages to draw from and starts the timer;
 * fails for a RATE out of range or a phone without chats. */
gboolean                   companion_phone_event_source_start     (CompanionPhoneEventSource *self,
                                                                  GError                   **error);
void                       companion_phone_event_source_stop      (CompanionPhoneEventSource *self);
/* Applies N events now (loading the chats first if needed), without the
 * timer: for tests. Returns the last seq, 0 on error. */
guint64                    companion_phone_event_source_step      (CompanionPhoneEventSource *self,
                                                                  guint                      n,
                                                                  GError                   **error);
/* Events applied so far. */
guint64                    companion_phone_event_source_get_count (CompanionPhoneEventSource *self);

G_END_DECLS

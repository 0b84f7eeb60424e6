/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "companion-phone-store.h"

G_BEGIN_DECLS

/* Hand-written phone data (`companion-phone scan --fixture FILE`), in the
 * format of docs/fixture.md. */

#define COMPANION_FIXTURE_ERROR (companion_fixture_error_quark ())

typedef enum
{
  COMPANION_FIXTURE_ERROR_INVALID,    /* not a fixture, or a field breaks its rule */
  COMPANION_FIXTURE_ERROR_REFERENCE,  /* a record refers to one the fixture lacks */
  COMPANION_FIXTURE_ERROR_FILE,       /* a media file: unsafe path, unreadable, wrong hash or size */
  COMPANION_FIXTURE_ERROR_TOO_LARGE,  /* the fixture file is over COMPANION_FIXTURE_MAX_SIZE */
} CompanionFixtureError;

#define COMPANION_FIXTURE_VERSION  1
#define COMPANION_FIXTURE_MAX_SIZE (256 * 1024 * 1024)

typedef struct
{
  guint   contacts;
  guint   chats;
  guint   messages;
  guint   media;
  guint   calls;
  guint64 last_seq;
} CompanionFixtureCounts;

GQuark   companion_fixture_error_quark (void);

/* Reads and checks the whole fixture at PATH (every record, every reference,
 * every media file's path and hash) before it changes anything, copies the
 * media files into STORE, then applies every record in one transaction.
 * Errors name the array, the position, the id and the field:
 * "messages[12] “m-9”: “chat” refers to an unknown chat “ch-3”". */
gboolean companion_fixture_load        (CompanionPhoneStore     *store,
                                        const char              *path,
                                        CompanionFixtureCounts  *counts_out,
                                        GError                 **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "companion-phone-store.h"

G_BEGIN_DECLS

/* Realistic phone data from a seed (`companion-phone scan --generate SPEC`):
 * the same SPEC always gives the same records and the same media bytes. */

#define COMPANION_GENERATOR_ERROR (companion_generator_error_quark ())

typedef enum
{
  COMPANION_GENERATOR_ERROR_INVALID_SPEC,
} CompanionGeneratorError;

#define COMPANION_GENERATOR_MAX_CHATS    100000
#define COMPANION_GENERATOR_MAX_MESSAGES 10000000
#define COMPANION_GENERATOR_MAX_MEDIA    100000
#define COMPANION_GENERATOR_MAX_CALLS    1000000

/* Changes per transaction while generating. */
#define COMPANION_GENERATOR_BATCH        10000

typedef struct
{
  guint   chats;     /* default 20 */
  guint   messages;  /* default 500 */
  guint   media;     /* default 10 */
  guint   calls;     /* default 30 */
  guint32 seed;      /* default 1 */
} CompanionGeneratorSpec;

typedef struct
{
  guint   contacts;
  guint   chats;
  guint   messages;
  guint   media;
  guint   calls;
  guint64 last_seq;
} CompanionGeneratorCounts;

GQuark   companion_generator_error_quark (void);

/* Parses "chats=N,messages=N,media=N,calls=N,seed=N": every key optional
 * (the defaults above), each at most once, decimal digits only, within the
 * caps above (seed: 0–4294967295). An empty SPEC means all defaults. */
gboolean companion_generator_parse_spec  (const char                   *text,
                                          CompanionGeneratorSpec       *spec,
                                          GError                      **error);

/* Generates SPEC into STORE through companion_phone_store_apply, in
 * transactions of COMPANION_GENERATOR_BATCH changes: contacts (about 1.2 per
 * chat, names in several scripts), media (real PNG, WAV and PDF files),
 * chats (about 20% groups; message counts Zipf-distributed), messages in
 * time order per chat over the two years before 2025-01-01, then calls. */
gboolean companion_generator_run         (CompanionPhoneStore          *store,
                                          const CompanionGeneratorSpec *spec,
                                          CompanionGeneratorCounts     *counts_out,
                                          GError                      **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sync (docs/protocol.md, "Sync"): pages and batches carry whole records up
 * to this many bytes of canonical JSON, so that each fits one Noise message
 * with its envelope; one record (at most 60 KiB) always travels alone. */
#define COMPANION_SYNC_PAGE_BUDGET (48 * 1024)
/* Pages or change batches sent and not yet acknowledged, at most. */
#define COMPANION_SYNC_WINDOW      4
/* Records read from the store at a time. */
#define COMPANION_SYNC_LIST_PAGE   500

G_END_DECLS

/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sync (docs/protocol.md, "Sync"): change batches carry whole records up
 * to this many bytes of canonical JSON, so that each fits one Noise message
 * with its envelope; one record (at most 60 KiB) always travels alone.
 * Snapshot pages, written from stored text, fill one transport message
 * (COMPANION_TUNNEL_RECORD_TEXT_MAX). */
#define COMPANION_SYNC_PAGE_BUDGET (48 * 1024)
/* Pages or change batches sent and not yet acknowledged, at most (4 MiB
 * of snapshot pages). */
#define COMPANION_SYNC_WINDOW      64
/* The desktop commits snapshot pages that arrive together in one
 * transaction, up to this many (and acknowledges each after the commit):
 * on a large mirror every commit rewrites the index pages it touched, so
 * fewer, larger commits write far less. Half the window, so the phone
 * keeps sending while the desktop commits. */
#define COMPANION_SYNC_COMMIT_PAGES 32
/* Records read from the store at a time. */
#define COMPANION_SYNC_LIST_PAGE   500

G_END_DECLS

/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Real, small media files for the phone simulator, made from RAND so that a
 * seed always gives the same bytes: a PNG (64–640 px, a gradient,
 * checkerboard or rings, INDEX in its first pixels; with THUMBNAIL_OUT, a
 * 48 px PNG of it as base64, for the record's inline thumbnail), a WAV voice note (PCM
 * 8 kHz mono, 1–6 s of tone) and a one-page PDF showing TITLE. */
GBytes *companion_media_sample_png (GRand      *rand,
                                    guint       index,
                                    guint      *width_out,
                                    guint      *height_out,
                                    char      **thumbnail_out);
GBytes *companion_media_sample_wav (GRand      *rand,
                                    guint       index,
                                    guint      *duration_ms_out);
GBytes *companion_media_sample_pdf (const char *title);

G_END_DECLS

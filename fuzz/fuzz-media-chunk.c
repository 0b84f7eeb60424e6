/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Media chunks (companion_media_chunk_judge, the desktop's check of every
 * chunk): a transfer of a fuzzed size from a fuzzed offset, fed fuzzed
 * chunks. Whatever comes, the bytes kept never pass the media's size, are
 * only ever the next ones in place, and nothing of a request is kept before
 * a chunk at its requested offset. */
#include "config.h"

#include <string.h>

#include "companion-media-transfer.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  static const guint8 hash[32] = { 0xc0, 0xff, 0xee, 0x01 };
  CompanionMediaChunkExpectation expect = { hash, 0, 0, FALSE, 0 };

  fuzz_init ();
  /* Sizes and offsets near 2^64 matter as much as small ones. */
  expect.size = fuzz_input_u64 (&in);
  expect.requested_at = fuzz_input_u64 (&in);
  if (expect.requested_at > expect.size)
    return 0; /* the desktop asks for what it has at most */
  expect.received = expect.requested_at;

  while (in.left > 0)
    {
      guint8 header[COMPANION_TUNNEL_CHUNK_HEADER_MAX + 1];
      guint8 mode = fuzz_input_byte (&in);
      gsize header_len = mode & 0x3f, got;
      const guint8 *bytes;
      guint64 offset = G_MAXUINT64;
      gsize data_len;
      CompanionMediaChunkVerdict verdict;

      /* Mode bit 6: the header is this media's hash and the fuzzed offset,
       * so most chunks get past the hash check. */
      if (mode & 0x40)
        {
          guint64 at = fuzz_input_u64 (&in);

          header_len = COMPANION_MEDIA_CHUNK_HEADER_LEN;
          memcpy (header, hash, 32);
          for (guint i = 0; i < 8; i++)
            header[32 + i] = (guint8) (at >> (56 - 8 * i));
        }
      else
        {
          bytes = fuzz_input_take (&in, header_len, &got);
          memcpy (header, bytes, got);
          header_len = got;
        }
      data_len = fuzz_input_u16 (&in) % (COMPANION_MEDIA_CHUNK_SIZE + 1);

      verdict = companion_media_chunk_judge (&expect, header, header_len, data_len, &offset);
      switch (verdict)
        {
        case COMPANION_MEDIA_CHUNK_IGNORE:
          break;
        case COMPANION_MEDIA_CHUNK_ACCEPT:
          g_assert (offset == expect.received);
          g_assert (expect.answered || offset == expect.requested_at);
          g_assert (data_len <= expect.size - expect.received);
          expect.answered = TRUE;
          expect.received += data_len;
          break;
        case COMPANION_MEDIA_CHUNK_OUT_OF_ORDER:
        case COMPANION_MEDIA_CHUNK_TOO_LONG:
          g_assert (header_len == COMPANION_MEDIA_CHUNK_HEADER_LEN && memcmp (header, hash, 32) == 0);
          return 0; /* the desktop ends the transfer */
        default:
          g_assert_not_reached ();
        }
      g_assert (expect.received <= expect.size);
    }
  return 0;
}

/** Schemas shared by several queues (the shapes they carry are src/domain's). */
import { z } from 'zod';

export const UsageSchema = z.object({ inputTokens: z.number().nonnegative(), outputTokens: z.number().nonnegative() });

/** The `file` builder's config (Packer 1.6.6): write `content` to, or copy `source` to, `target`. */
import { z } from 'zod';

export const fileConfigSchema = z
  .strictObject({
    /** The file to create (required). */
    target: z.string().optional(),
    /** Text to write into `target`. */
    content: z.string().optional(),
    /** A file to copy to `target` instead of `content`. */
    source: z.string().optional(),
  })
  .superRefine((c, issue) => {
    if (!c.target) issue.addIssue({ code: 'custom', path: ['target'], message: 'target required' });
    if (c.content && c.source) {
      issue.addIssue({
        code: 'custom',
        path: ['source'],
        message: 'Cannot specify source file AND content',
      });
    }
  });

export type FileConfig = z.infer<typeof fileConfigSchema>;

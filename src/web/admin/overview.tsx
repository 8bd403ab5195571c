/** The console's home: how the program is doing, and what asks for attention. */
import { PageHead } from '../components/page-head.tsx'
import type { MemberPage } from '../context.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'

async function overview(page: MemberPage): Promise<Response> {
  return consolePage(page, { title: 'Overview', section: 'overview' }, [<PageHead title="Overview" />])
}

export const overviewPages: ConsoleRoute[] = [{ method: 'GET', path: '', handle: overview }]

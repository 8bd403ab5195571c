declare module '*.yaml' {
  const text: string
  export default text
}

declare module '*.css' {
  const path: string
  export default path
}

// Browser scripts embedded as files (web/assets): their import answers a path, not a module.
declare module 'htmx.org/dist/htmx.min.js' {
  const path: string
  export default path
}
declare module 'uplot/dist/uPlot.iife.min.js' {
  const path: string
  export default path
}
declare module '*/console.js' {
  const path: string
  export default path
}

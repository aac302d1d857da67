"""The work bulletin (工作简报 第N期) and the weekly digest.

Pure figures (`stats`, `weekly`) over plain rows, a query layer (`query`), one content model
(`document`) that both the DOCX writer and the HTML template render, and the issuing service (`issue`).
"""
